"""Pictures of line profiles (matplotlib) and the labels and units every picture shares;
the field maps are in `fem_spin.io.maps`.

Rank 0 only; all read files already written, so they work the same after a parallel run and
from `fem-spin plot` on a finished result folder. The profile needs only matplotlib.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fem_spin.io.output import read_profile_csv

AXES = "xyz"
# Unit suffixes of the SI field names (fem_spin.io.output.SI_NAMES) -> mathtext.
UNITS = (("_A_per_m2", "A/m$^2$"), ("_A_per_m_s", "A/(m s)"), ("_A_per_m", "A/m"),
         ("_A_per_s", "A/s"), ("_over_M0", "1/M$_0$"), ("_volt", "V"), ("_T", "T"), ("_V", "V"))
SPLIT = 0.2  # components below this fraction of the peak get their own axis
_COLUMN = re.compile(r"^(?P<base>.+?)_(?P<c>[xyz])(?:_(?P<unit>.+))?$")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ------------------------------------------------------------------------------- labels, units


def split_unit(name: str) -> tuple[str, str]:
    """'m_A_per_m' -> ('m', 'A/m'); 'j_e_A_per_m2' -> ('j_e', 'A/m$^2$'); 'm' -> ('m', '')."""
    for suffix, unit in UNITS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], unit
    return name, ""


def symbol(base: str, component: str = "") -> str:
    """Mathtext symbol of a field (component): m, x -> m$_x$; j_e, z -> j$_{e,z}$; abs_m -> |m|."""
    if base.startswith("abs_"):
        return f"|{symbol(base[4:])}|"
    head, _, sub = base.partition("_")
    subs = ",".join(s for s in (sub, component) if s)
    return f"{head}$_{{{subs}}}$" if subs else head


def axis_label(sym: str, unit: str) -> str:
    return f"{sym} [{unit}]" if unit else f"{sym} (normalised)"


def _column(name: str) -> tuple[str, str, str]:
    """A profile CSV column -> (base, component, unit): m_x_A_per_m -> ('m', 'x', 'A/m')."""
    match = _COLUMN.match(name)
    if match is None:
        base, unit = split_unit(name)
        return base, "", unit
    unit = split_unit("q_" + match["unit"])[1] if match["unit"] else ""
    return match["base"], match["c"], unit


def _abscissa(name: str) -> str:
    base, unit = (name[:-3], "nm") if name.endswith("_nm") else (name, "")
    return f"{base} [{unit}]" if unit else base


# ----------------------------------------------------------------------------------- profiles


def profile_figure(csv_path: Path, title: str = "",
                   regions: list[tuple[float, float, str]] | None = None, split: float = SPLIT):
    """The matplotlib figure of a profile CSV: the dominant component(s) on the upper axis and
    the components smaller than `split` times the peak on a lower axis of their own (so a
    transverse accumulation of 0.5 % of the peak shows); `regions` ((s_start, s_end, name)
    along the line) as vertical lines with the names."""
    plt = _pyplot()
    header, data = read_profile_csv(csv_path)
    s, values = data[:, 0], data[:, 1:]
    cols = [_column(n) for n in header[1:]]
    peaks = np.nanmax(np.abs(values), axis=0) if len(values) else np.zeros(len(cols))
    top = float(np.max(peaks)) if len(peaks) else 0.0
    small = [j for j, p in enumerate(peaks) if top > 0 and 0 < p < split * top]
    big = [j for j in range(len(cols)) if j not in small]
    colours = {"x": "C0", "y": "C1", "z": "C3"}
    fig, axes = plt.subplots(2 if small else 1, 1, sharex=True, squeeze=False, dpi=150,
                             figsize=(8.0, 5.6 if small else 4.2),
                             gridspec_kw={"height_ratios": [3, 2]} if small else None)
    axes = list(axes[:, 0])
    for ax, group in zip(axes, (big, small)):
        for j in group:
            base, comp, unit = cols[j]
            ax.plot(s, values[:, j], color=colours.get(comp, f"C{j}"), lw=1.8,
                    label=symbol(base, comp))
        ax.axhline(0, color="0.6", lw=0.7, zorder=0)
        base, _, unit = cols[group[0]]
        comps = [cols[j][1] for j in group]
        sym = symbol(base, comps[0]) if len(group) == 1 else ", ".join(symbol(base, c) for c in comps)
        ax.set_ylabel(axis_label(sym, unit))
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3), useMathText=True)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.grid(alpha=0.25)
    if small:
        axes[1].set_title(f"transverse: peak {max(peaks[j] for j in small) / top:.2g} of the "
                          "main component", fontsize=9, loc="right", color="0.3")
    _mark_regions(axes, regions or [])
    axes[-1].set_xlabel(_abscissa(header[0]))
    axes[-1].set_xlim(s[0], s[-1]) if len(s) > 1 else None
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _mark_regions(axes, regions: list[tuple[float, float, str]]) -> None:
    if len(regions) < 2:
        return
    for k, (a, b, name) in enumerate(regions):
        for ax in axes:
            if k % 2:
                ax.axvspan(a, b, color="0.5", alpha=0.07, lw=0, zorder=0)
            if k:
                ax.axvline(a, color="0.35", lw=0.8, ls="--", zorder=1)
        axes[0].text((a + b) / 2, 1.01, name, transform=axes[0].get_xaxis_transform(),
                     ha="center", va="bottom", fontsize=9, color="0.25")


def plot_profile(csv_path: Path, png_path: Path, title: str = "",
                 regions: list[tuple[float, float, str]] | None = None) -> Path:
    """profile.png of a profile CSV (see `profile_figure`)."""
    plt = _pyplot()
    fig = profile_figure(csv_path, title, regions)
    fig.savefig(png_path)
    plt.close(fig)
    return png_path
