"""Parameter sweeps: one run per value, each in its own sub-folder, plus a summary table."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import numpy as np

from ._backend import MPI
from .case import CaseError, resolve_case, set_value
from .output import atomic_dir
from .progress import logger
from .runner import run_case


def parse_values(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise CaseError(f"--param needs values after '=', got {text!r}")
    return values


def sweep_cases(raw: dict, key: str, values: list[str], base_dir: Path | None = None
                ) -> list[tuple[str, dict]]:
    """One resolved case per value of `key` (section.key): all checked before any run."""
    cases = []
    for text in values:
        r = copy.deepcopy(raw)
        set_value(r, key, text)
        cases.append((text, resolve_case(r, base_dir)))
    return cases


def run_sweep(cases: list[tuple[str, dict]], key: str, output: Path, overwrite: bool = False,
              comm: MPI.Comm = MPI.COMM_WORLD, petsc_options: dict | None = None
              ) -> list[dict[str, Any]]:
    """Run each case of `sweep_cases`; return one summary row per run.

    The folder `output` holds `<key>=<value>/` per run, `sweep.csv` and `sweep.png`.
    """
    rows = []
    with atomic_dir(output, comm, overwrite) as tmp:
        for text, case in cases:
            logger.info("== %s = %s", key, text)
            res = run_case(case, tmp / f"{key.split('.')[-1]}={text}", comm=comm,
                           petsc_options=petsc_options)
            s = res.summary
            rows.append({key: text, "dofs": s["dofs"], **{f"max_abs_m_{c}": v for c, v in
                                                        (s.get("max_abs_m") or {}).items()},
                         "solve_s": s["timings_s"].get("solve", np.nan)})
        if comm.rank == 0:
            write_table(tmp / "sweep.csv", rows)
            plot_sweep(tmp, key, [t for t, _ in cases])
    return rows


def write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def plot_sweep(folder: Path, key: str, values: list[str]) -> None:
    """Overlay each run's profile, one panel per component."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .output import read_profile_csv

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=110, sharex=True)
    name = key.split(".")[-1]
    for text in values:
        header, data = read_profile_csv(folder / f"{name}={text}" / "profile.csv")
        for j, ax in enumerate(axes):
            ax.plot(data[:, 0], data[:, j + 1], label=f"{name} = {text}")
    for j, ax in enumerate(axes):
        ax.set_title(header[j + 1].replace("_", " "))
        ax.set_xlabel(header[0].replace("_nm", " [nm]"))
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "sweep.png")
    plt.close(fig)
