"""Parameter sweeps: one run per value, each in its own sub-folder, plus a summary table."""

from __future__ import annotations

import copy
import csv
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from fem_spin._backend import MPI
from fem_spin.io.case import CaseError, resolve_case, set_value
from fem_spin.io.output import atomic_dir
from fem_spin.io.model import as_case
from fem_spin.progress import logger
from fem_spin.app.results import torque_columns
from fem_spin.app.runner import run_case


def parse_values(text: str) -> list[str]:
    """Split `V1,V2,...` at the commas outside brackets, so vectors sweep too:
    `[0,0,1],[1,0,0]` gives two values."""
    values, depth, cur = [], 0, ""
    for ch in text:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if depth < 0:
            raise CaseError(f"--param values {text!r}: unbalanced ']'")
        if ch == "," and depth == 0:
            values.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if depth:
        raise CaseError(f"--param values {text!r}: unbalanced '['")
    values.append(cur.strip())
    values = [v for v in values if v]
    if not values:
        raise CaseError(f"--param needs values after '=', got {text!r}")
    return values


def parse_params(params: list[str]) -> list[tuple[str, list[str]]]:
    """`SECTION.KEY=V1,V2` strings -> [(key, values)]; each key once."""
    out: list[tuple[str, list[str]]] = []
    for p in params:
        if "=" not in p:
            raise CaseError(f"--param {p!r}: write SECTION.KEY=V1,V2,...")
        key, text = (t.strip() for t in p.split("=", 1))
        if key in (k for k, _ in out):
            raise CaseError(f"--param {key!r} is given twice")
        out.append((key, parse_values(text)))
    return out


def run_name(combo: tuple[tuple[str, str], ...]) -> str:
    """Sub-folder of one run: `theta_deg=90` or `theta_deg=90,width_nm=1.2`."""
    return ",".join(f"{k.split('.')[-1]}={v.replace(' ', '')}" for k, v in combo)


def sweep_cases(raw: dict, params: list[tuple[str, list[str]]], base_dir: Path | None = None
                ) -> list[tuple[tuple[tuple[str, str], ...], dict]]:
    """One resolved case per combination of the values (the product over the keys), all checked
    before any run. Each item is ((key, value text), ...) and the case."""
    cases = []
    for combo in itertools.product(*([(k, v) for v in vals] for k, vals in params)):
        r = copy.deepcopy(raw)
        for key, text in combo:
            set_value(r, key, text)
        cases.append((tuple(combo), resolve_case(r, base_dir)))
    return cases


def run_sweep(cases: list, output: Path, overwrite: bool = False,
              comm: MPI.Comm = MPI.COMM_WORLD, petsc_options: dict | None = None
              ) -> list[dict[str, Any]]:
    """Run each case of `sweep_cases`; return one summary row per run.

    The folder `output` holds one sub-folder per run (`run_name`), `sweep.csv` and `sweep.png`.
    """
    rows = []
    with atomic_dir(output, comm, overwrite) as tmp:
        for i, (combo, case) in enumerate(cases):
            name = run_name(combo)
            logger.info("== run %d of %d: %s", i + 1, len(cases), name)
            case = as_case(case).replace("output", folder=str(output / name))  # what case.toml records
            res = run_case(case, tmp / name, comm=comm, petsc_options=petsc_options,
                           shown_as=output / name)
            s = res.summary
            rows.append({**dict(combo), "dofs": s["dofs"],
                         **{f"max_abs_m_{c}": v for c, v in (s.get("max_abs_m") or {}).items()},
                         **torque_columns(s), "solve_s": s["timings_s"].get("solve", np.nan)})
        if comm.rank == 0:
            write_table(tmp / "sweep.csv", rows)
            plot_sweep(tmp, [run_name(c) for c, _ in cases])
    return rows


def write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def plot_sweep(folder: Path, names: list[str]) -> None:
    """Overlay each run's profile, one panel per component."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fem_spin.io.output import read_profile_csv

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=110, sharex=True)
    for name in names:
        header, data = read_profile_csv(folder / name / "profile.csv")
        for j, ax in enumerate(axes):
            ax.plot(data[:, 0], data[:, j + 1], label=name.replace("=", " = ").replace(",", ", "))
    for j, ax in enumerate(axes):
        ax.set_title(header[j + 1].replace("_", " "))
        ax.set_xlabel(header[0].replace("_nm", " [nm]"))
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "sweep.png")
    plt.close(fig)
