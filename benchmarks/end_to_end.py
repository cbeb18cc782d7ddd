"""End-to-end benchmark: the whole `fem-spin run` of the 3D slab, case file to ParaView files.

    python benchmarks/end_to_end.py [--h 1.2 0.9 0.6 0.5 0.4 0.32] [--ranks 1 2]
                                    [--max-dofs-1rank 1.5e6] [--out benchmarks/results/e2e]

The case is the paper's slab as a user writes it (L = 100 nm, 10 x 10 nm cross-section,
uniform Gmsh tetrahedra of size h, theta = 90 degrees, P2, solver.preset = "iterative",
default outputs). Each (h, ranks) runs `mpirun -n RANKS fem-spin run` in its own process and
reads its summary.json: DOFs, the stage times (mesh, assemble, solve, write), iterations, peak
resident memory summed over the ranks, and the bytes written; `wall` is the whole command,
start-up included. Prints a table, saves results.csv and end_to_end.png (time per stage and
peak memory against DOFs). The machine is named in the CSV. Results: docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASE = """
[geometry]
kind = "slab"
dim = 3
length_nm = 100.0
width_nm = 10.0
h_interface_nm = {h}
h_far_nm = {h}
allow_coarse = true
allow_large = true

[magnetization]
profile = "interface"
theta_deg = 90.0
width_nm = 0.6

[material]
D_m2_per_s = 1e-3
tau_sf_s = 1e-11
a0 = 100.0
omega0_per_s = 1e13

[discretization]
degree = 2

[solver]
preset = "iterative"

[output]
png = false
"""
STAGES = ("mesh", "assemble", "solve", "write")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB"


def run_one(h: float, ranks: int, work: Path) -> dict:
    case = work / f"slab_h{h}.toml"
    case.write_text(CASE.format(h=h))
    out = work / f"out_h{h}_n{ranks}"
    exe = shutil.which("fem-spin", path=str(Path(sys.executable).parent)) or "fem-spin"
    mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or "mpirun"
    cmd = [mpirun, "-n", str(ranks), exe, "run", str(case), "-o", str(out), "--overwrite", "-q"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return {"h_nm": h, "ranks": ranks, "error": proc.returncode}
    s = json.loads((out / "summary.json").read_text())
    row = {"h_nm": h, "ranks": ranks, "dofs": s["dofs"], "cells": s["cells"],
           **{f"{k}_s": round(s["timings_s"].get(k, 0.0), 2) for k in STAGES},
           "wall_s": round(wall, 1), "iterations": s["iterations"],
           "peak_memory_mb": round(s["peak_memory_mb"]["all_ranks"]),
           "written_mb": round(s["bytes_written"] / 1e6, 1)}
    shutil.rmtree(out, ignore_errors=True)
    return row


def plot(rows: list[dict], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    for ranks, style in ((1, "--"), (2, "-")):
        sel = sorted((r for r in rows if r["ranks"] == ranks and "dofs" in r), key=lambda r: r["dofs"])
        if not sel:
            continue
        d = [r["dofs"] for r in sel]
        for i, k in enumerate(STAGES):
            axes[0].loglog(d, [max(r[f"{k}_s"], 1e-2) for r in sel], style, marker="o", color=f"C{i}",
                           label=f"{k}, {ranks} rank{'s' if ranks > 1 else ''}")
        axes[0].loglog(d, [r["wall_s"] for r in sel], style, marker="s", color="k",
                       label=f"whole run, {ranks} rank{'s' if ranks > 1 else ''}")
        axes[1].loglog(d, [r["peak_memory_mb"] / 1e3 for r in sel], style, marker="o", color="C0",
                       label=f"peak memory (all ranks), {ranks} rank{'s' if ranks > 1 else ''}")
        axes[1].loglog(d, [r["written_mb"] / 1e3 for r in sel], style, marker="^", color="C3",
                       label=f"written, {ranks} rank{'s' if ranks > 1 else ''}")
    axes[0].set_xlabel("DOFs")
    axes[0].set_ylabel("time [s]")
    axes[0].legend(fontsize=6, ncol=2)
    axes[1].set_xlabel("DOFs")
    axes[1].set_ylabel("GB")
    axes[1].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--h", type=float, nargs="+", default=[1.2, 0.9, 0.6, 0.5, 0.4, 0.32])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--max-dofs-1rank", type=float, default=1.5e6,
                    help="skip 1-rank runs above this many (estimated) DOFs")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "e2e")
    ap.add_argument("--label", default="", help="a word for this set of runs (e.g. before/after)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    name = machine()
    rows = []
    cols = ["label", "h_nm", "ranks", "dofs", "cells", *(f"{k}_s" for k in STAGES), "wall_s",
            "iterations", "peak_memory_mb", "written_mb", "machine"]
    print(f"machine: {name}")
    print(" | ".join(cols[1:-1]))
    with tempfile.TemporaryDirectory(prefix="fem_spin_e2e_") as tmp:
        for h in args.h:
            for ranks in args.ranks:
                est = 2.66e6 * (0.4 / h) ** 3  # measured: 2,661,684 DOFs at h = 0.4 nm
                if ranks == 1 and est > args.max_dofs_1rank:
                    continue
                row = {"label": args.label, **run_one(h, ranks, Path(tmp)), "machine": name}
                rows.append(row)
                print(" | ".join(str(row.get(c, "")) for c in cols[1:-1]), flush=True)
    csv_path = args.out / "results.csv"
    old = []
    if csv_path.exists():  # keep other labels' rows (before/after)
        with open(csv_path) as fh:
            old = [r for r in csv.DictReader(fh) if r.get("label") != args.label]
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(old + rows)
    plot(rows, args.out / "end_to_end.png", f"fem-spin run, 3D slab P2 'iterative' ({name})")
    print(f"saved {csv_path} and {args.out / 'end_to_end.png'}")


if __name__ == "__main__":
    main()
