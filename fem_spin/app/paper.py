"""The paper's two applications as reusable sweeps (Figs. 6-11 slab, Figs. 13-15 ring).

Each sweep is a base case plus a list of values for one key, run through
`fem_spin.app.sweep` (ParaView files per run, sweep.csv, overlay PNG), then drawn in the
layout of the paper's figure by `plot_figure`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fem_spin._backend import MPI
from fem_spin.io.output import read_profile_csv
from fem_spin.geometry.ring import ring_components
from fem_spin.app.sweep import run_sweep, sweep_cases


def slab_case(length: float = 100.0, theta: float = 90.0, width: float = 0.6, dim: int = 1) -> dict:
    """The paper's CPP slab (1D by default, as in the paper), converged P2 mesh."""
    return {"geometry": {"kind": "slab", "dim": dim, "length_nm": length, "width_nm": 2.0,
                         "h_interface_nm": min(0.1, width / 4), "h_far_nm": 0.25},
            "magnetization": {"profile": "interface", "theta_deg": theta, "width_nm": width},
            "discretization": {"degree": 2}, "output": {"profile_points": 2001}}


def ring_case(side: float = 100.0, width: float = 1.0, dim: int = 2) -> dict:
    """The square ring of Fig. 12 (2D annulus), m_eq = M/M0, corner dip w = 0.6 nm."""
    return {"geometry": {"kind": "ring", "dim": dim, "length_nm": side, "width_nm": width,
                         "h_interface_nm": 0.15, "h_far_nm": 0.5},
            "magnetization": {"profile": "interface", "width_nm": 0.6},
            "discretization": {"degree": 2}, "output": {"profile_points": 4001}}


def sweep(raw: dict, key: str, values: list, output: Path, comm: MPI.Comm = MPI.COMM_WORLD) -> list[dict]:
    """Run one sweep (overwriting `output`); values are numbers."""
    cases = sweep_cases(raw, [(key, [repr(v) for v in values])])
    return run_sweep(cases, output, overwrite=True, comm=comm)


def load_profiles(folder: Path, key: str, values: list) -> dict:
    """{value: (abscissa, m (N, 3))} from a sweep folder."""
    name = key.split(".")[-1]
    out = {}
    for v in values:
        _, data = read_profile_csv(folder / f"{name}={v!r}" / "profile.csv")
        out[v] = (data[:, 0], data[:, 1:4])
    return out


def plot_figure(folder: Path, key: str, values: list, components: list[int], png: Path,
                title: str, unit: str = "", ring_side: float | None = None) -> Path:
    """Curves per value, one panel per component (the paper's layout).

    For the ring (`ring_side` given) components are local: tangent, outward normal, z.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["tangential", "normal", "z"] if ring_side else ["x", "y", "z"]
    profiles = load_profiles(folder, key, values)
    fig, axes = plt.subplots(1, len(components), figsize=(5.2 * len(components), 3.9), dpi=110,
                             squeeze=False)
    for v, (s, m) in profiles.items():
        if ring_side:
            m = ring_components(m, s, ring_side)
        for ax, c in zip(axes[0], components):
            ax.plot(s, m[:, c], lw=1.0, label=f"{v:g}{unit}")
    for ax, c in zip(axes[0], components):
        ax.set_xlabel("arc length s [nm]" if ring_side else "x [nm]")
        ax.set_ylabel(f"m_{names[c]}")
        ax.axhline(0, color="0.85", lw=0.8)
    axes[0][-1].legend(fontsize=8, title=key.split(".")[-1])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def peaks(folder: Path, key: str, values: list, ring: bool = False) -> dict:
    """Peak |m_x|, |m_y|, |m_z| per value; for the ring also the peak of |m| and of
    |m - m_eq| (the non-equilibrium part) along the centreline."""
    from fem_spin.geometry.ring import equilibrium_along_loop

    out = {}
    for v, (s, m) in load_profiles(folder, key, values).items():
        row = {f"max_abs_m_{c}": float(np.max(np.abs(m[:, i]))) for i, c in enumerate("xyz")}
        if ring:
            meq = equilibrium_along_loop(s[-1] / 4, len(s))
            row["max_abs_m"] = float(np.max(np.linalg.norm(m, axis=1)))
            row["max_abs_m_minus_meq"] = float(np.max(np.linalg.norm(m - meq, axis=1)))
        out[v] = row
    return out


def peak_mx(length: float, theta: float, h_interface: float = 0.1, h_far: float = 0.25,
            points: int = 2001, comm: MPI.Comm = MPI.COMM_WORLD) -> float:
    """Peak |m_x| of the 1D slab (no files written): one point of the fine sweeps."""
    from fem_spin.io.case import resolve_case
    from fem_spin.app.runner import run_case

    case = slab_case(length=length, theta=theta)
    case["geometry"].update(h_interface_nm=h_interface, h_far_nm=h_far)
    case["output"]["profile_points"] = points
    return comm.bcast(run_case(resolve_case(case), None, comm=comm).summary["max_abs_m"]["x"], root=0)


def fine_sweeps(angles: list[float], lengths: list[float], angle_lengths: tuple[float, ...] = (100.0, 10.0),
                comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """Peak |m_x| on a fine angle grid for each of `angle_lengths`, and versus L at 90 degrees."""
    return {"theta": {L: [peak_mx(L, a, comm=comm) for a in angles] for L in angle_lengths},
            "length": [peak_mx(L, 90.0, comm=comm) for L in lengths]}


def plot_fine_sweeps(result: dict, angles: list[float], lengths: list[float], png: Path) -> Path:
    """Peak |m_x| vs angle (one curve per length) and vs length at 90 degrees."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.9), dpi=110)
    for L, peaks_ in result["theta"].items():
        k = int(np.argmax(peaks_))
        top = peaks_[k]
        a.plot(angles, np.asarray(peaks_) / top, label=f"L = {L:g} nm (max {top:.3g} at {angles[k]:g} deg)")
        a.plot([angles[k]], [1.0], "k.", ms=6)
    a.set_xlabel("theta [deg]")
    a.set_ylabel("peak |m_x| / its maximum")
    a.set_xticks(range(0, 181, 30))
    a.legend(fontsize=8)
    a.set_title("peak |m_x| vs angle (dots: maxima)")
    b.loglog(lengths, result["length"], "o-")
    b.set_xlabel("L [nm]")
    b.set_ylabel("peak |m_x| at theta = 90 deg")
    b.set_title("peak |m_x| vs slab length")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png
