"""Memory of a long dynamic run: the resident set size (all ranks) at steps 1, 100, 1000, ...
of a case's coupled loop, to show that it stays flat (issue 19: RSS at step 100 and 10^4 within 5%).

    mpirun -n 2 python benchmarks/dynamics_memory.py [--case demos/spin_valve_dynamics.toml]
        [--steps 10000] [--h 4 --h-interface 2  (a .geo device's sizes, e.g. the 3D pillar)]

Every step runs as in `fem-spin run`, into a temporary folder (dynamics.csv gets a row per step,
the time series only the first and last state). Prints a table.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
from pathlib import Path

from mpi4py import MPI

from fem_spin.app.build import build_domain, make_problem
from fem_spin.app.preflight import check_device_file
from fem_spin.app.runner import run_coupled
from fem_spin.io.case import read_raw, resolve_case
from fem_spin.io.model import as_case
from fem_spin.physics import dynamics

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", type=Path, default=ROOT / "demos" / "spin_valve_dynamics.toml")
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--h", type=float)
    ap.add_argument("--h-interface", type=float)
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    raw = read_raw(args.case)
    if args.h:
        raw["geometry"].setdefault("parameters", {}).update(h=args.h, h_interface=args.h_interface or args.h)
    raw.setdefault("dynamics", {})
    dt = raw["dynamics"].get("dt_s", 1e-12)
    raw["dynamics"].update(t_end_s=args.steps * dt, dt_s=dt, checkpoint_every=0, output_every=args.steps)
    raw["dynamics"].pop("tolerance", None)
    if "Ms_A_per_m" not in raw["material"]:  # a steady demo device: micromagnetic constants
        raw["material"].update(Ms_A_per_m=1.4e6, A_ex_J_per_m=2e-11, alpha_G=0.02)
    case = as_case(resolve_case(raw, args.case.parent))
    dim = comm.bcast(check_device_file(case) if comm.rank == 0 else None, root=0)
    case = case.replace("geometry", dim=dim)
    problem = make_problem(case, build_domain(case, comm))
    marks = {1, args.steps}
    k = 100
    while k < args.steps:
        marks.add(k)
        k *= 10
    seen = {}
    count = {"n": -1}

    def on_step(t, coupling):
        count["n"] += 1
        if count["n"] in marks:
            seen[count["n"]] = comm.allreduce(rss_mb(), op=MPI.SUM)

    real = dynamics.run_dynamics
    dynamics.run_dynamics = lambda *a, **kw: real(*a, **{**kw, "callback": on_step})
    folder = Path(comm.bcast(tempfile.mkdtemp(prefix="fem_spin_mem_") if comm.rank == 0 else None, root=0))
    try:
        run_coupled(case, problem, folder)
    finally:
        dynamics.run_dynamics = real
        comm.barrier()
        if comm.rank == 0:
            shutil.rmtree(folder, ignore_errors=True)
    if comm.rank == 0:
        print(f"{args.case.name}, {problem.num_dofs} DOFs, {comm.size} ranks, {args.steps} steps")
        print(f"{'step':>7} {'RSS all ranks MB':>17} {'vs step 100':>12}")
        for n in sorted(seen):
            ref = seen.get(100, seen[min(seen)])
            print(f"{n:>7} {seen[n]:17.1f} {100 * (seen[n] / ref - 1):+11.2f}%")


if __name__ == "__main__":
    main()
