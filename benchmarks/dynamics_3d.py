"""Dynamics of the 3D nanopillar spin valve at device scale: the cost of one LLG step against a
cold steady solve, the electron solver's iterations step by step, and the memory.

    mpirun -n 2 python benchmarks/dynamics_3d.py [--steps 200] [--h 2.0] [--h-interface 1.0]
                                                 [--preset iterative] [--out benchmarks/results/dyn3d]

The case is demos/spin_valve_current.toml (40 nm pillar, fixed 10 nm / Cu 5 nm / free 10 nm,
P2, j = 1e11 A/m^2 along the axis) with micromagnetic constants (Ms = 1.4e6 A/m, A = 2e-11 J/m,
alpha_G = 0.02), the fixed layer held and 1 ps steps of the quasi-static coupled loop
(fem_spin.physics.dynamics). Measured in one run: the cold steady solve (a fresh solver, m from
0), then per step the electron solve (assembly + solve, with its iterations), the LLG step and
the rest, and the resident memory. Prints a table; writes steps.csv and summary.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.app.build import build_domain, llg_of, make_problem
from fem_spin.app.preflight import check_device_file
from fem_spin.app.runner import run_coupled
from fem_spin.io.case import read_raw, resolve_case
from fem_spin.io.model import as_case
from fem_spin.progress import configure_logging

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--h", type=float, default=2.0)
    ap.add_argument("--h-interface", type=float, default=1.0)
    ap.add_argument("--preset", default="iterative")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dyn3d")
    args = ap.parse_args()
    configure_logging()
    comm = MPI.COMM_WORLD

    raw = read_raw(ROOT / "demos" / "spin_valve_current.toml")
    raw["geometry"]["parameters"] = {"h": args.h, "h_interface": args.h_interface}
    raw["material"].update(A_ex_J_per_m=2e-11, alpha_G=0.02)
    raw["regions"]["fixed"]["dynamic"] = False
    raw["dynamics"] = {"t_end_s": args.steps * 1e-12, "dt_s": 1e-12, "checkpoint_every": 0}
    raw["solver"] = {"preset": args.preset}
    case = as_case(resolve_case(raw, ROOT / "demos"))
    dim = comm.bcast(check_device_file(case) if comm.rank == 0 else None, root=0)
    case = case.replace("geometry", dim=dim)
    domain = build_domain(case, comm)
    problem = make_problem(case, domain)

    t0 = time.perf_counter()
    problem.solve()  # the cold steady solve: a fresh solver, m from 0
    cold = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    cold_its = problem.iterations
    problem.m.x.array[:] = 0.0

    rows: list[dict] = []
    clock = {"electrons": 0.0, "llg": 0.0, "its": 0}

    def timed(obj, name, key, after=None):
        inner = getattr(obj, name)

        def wrapper(*a, **k):
            s = time.perf_counter()
            out = inner(*a, **k)
            clock[key] += time.perf_counter() - s
            if after:
                after()
            return out
        setattr(obj, name, wrapper)

    last = {"t": time.perf_counter()}

    def on_step(t, coupling):
        if not hasattr(coupling, "_timed"):  # wrap on the first call (the prime)
            coupling._timed = True
            timed(coupling.llg, "step", "llg")
            timed(coupling, "update_accumulation", "electrons",
                  after=lambda: clock.update(its=coupling.solver.iterations))
            last["t"] = time.perf_counter()
            return
        now = time.perf_counter()
        rows.append({"step": len(rows) + 1, "t_s": t, "wall_s": now - last["t"], "electrons_s": clock["electrons"],
                     "electron_iterations": clock["its"], "llg_s": clock["llg"], "rss_mb": rss_mb()})
        clock.update(electrons=0.0, llg=0.0)
        last["t"] = now

    from fem_spin.physics import dynamics

    real = dynamics.run_dynamics

    def with_callback(*a, **k):
        return real(*a, **{**k, "callback": on_step})

    dynamics.run_dynamics = with_callback
    try:
        run_coupled(case, problem, None)
    finally:
        dynamics.run_dynamics = real

    rss = comm.gather([r["rss_mb"] for r in rows], root=0)
    if comm.rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)
        for r, k in zip(rows, range(len(rows))):
            r["rss_mb_all_ranks"] = sum(x[k] for x in rss)
        with open(args.out / "steps.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        wall = np.array([r["wall_s"] for r in rows])
        el = np.array([r["electrons_s"] for r in rows])
        ll = np.array([r["llg_s"] for r in rows])
        its = np.array([r["electron_iterations"] for r in rows])
        summary = {"ranks": comm.size, "dofs": problem.num_dofs, "preset": problem.solver, "h": args.h,
                   "h_interface": args.h_interface, "steps": len(rows), "cold_solve_s": cold,
                   "cold_iterations": cold_its, "mean_step_s": wall.mean(), "mean_electrons_s": el.mean(),
                   "mean_llg_s": ll.mean(), "mean_rest_s": (wall - el - ll).mean(),
                   "iterations_first_last_max": [int(its[0]), int(its[-1]), int(its.max())],
                   "rss_all_ranks_mb_step_1_10_last": [rows[0]["rss_mb_all_ranks"],
                                                       rows[min(9, len(rows) - 1)]["rss_mb_all_ranks"],
                                                       rows[-1]["rss_mb_all_ranks"]]}
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"{'ranks':>5} {'DOFs':>8} {'preset':>9} {'cold s':>7} {'step s':>7} {'step/cold':>9} "
              f"{'elec s':>7} {'its 1/last/max':>15} {'LLG s':>6} {'rest s':>6} {'RSS 1->last MB':>16}")
        s = summary
        print(f"{s['ranks']:>5} {s['dofs']:>8} {s['preset']:>9} {cold:7.2f} {s['mean_step_s']:7.2f} "
              f"{s['mean_step_s'] / cold:9.2f} {s['mean_electrons_s']:7.2f} "
              f"{'/'.join(map(str, s['iterations_first_last_max'])):>15} {s['mean_llg_s']:6.2f} "
              f"{s['mean_rest_s']:6.2f} {rows[0]['rss_mb_all_ranks']:7.0f}->{rows[-1]['rss_mb_all_ranks']:.0f}")


if __name__ == "__main__":
    main()
