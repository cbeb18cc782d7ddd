"""Dynamics of the 3D nanopillar spin valve at device scale: the cost of one LLG step against a
cold steady solve, before and after the per-step savings of issue 19, in one run.

    mpirun -n 2 python benchmarks/dynamics_3d.py [--steps 200] [--before-steps 20] [--h 2.0]
        [--h-interface 1.0] [--preset iterative] [--out benchmarks/results/dyn3d]

The case is demos/spin_valve_current.toml (40 nm pillar, fixed 10 nm / Cu 5 nm / free 10 nm,
P2, j = 1e11 A/m^2 along the axis) with micromagnetic constants (Ms = 1.4e6 A/m, A = 2e-11 J/m,
alpha_G = 0.02), the fixed layer held, no demagnetizing field unless --demag, and 1 ps steps of
the quasi-static coupled loop (fem_spin.physics.dynamics). Measured: the cold steady solve (a fresh solver, m from 0); then
"before" ([dynamics] reuse_solver = false, llg_solver = "direct": everything redone every step)
for --before-steps steps and "after" (the defaults) for --steps steps, each step split into the
electron update (its assembly, solve iterations and preconditioner builds), the LLG step (and
within it, with --demag, the demagnetizing field's evaluation) and the rest, with the resident
memory and the largest angle any node of u turned in the step; and the largest difference of the region averages of u
and m between the two over the steps both ran. Prints a table; writes steps_<mode>.csv and
summary.json.
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

from fem_spin.app.build import build_domain, make_problem
from fem_spin.app.preflight import check_device_file
from fem_spin.app.runner import run_coupled
from fem_spin.io.case import read_raw, resolve_case
from fem_spin.io.model import as_case
from fem_spin.physics import dynamics
from fem_spin.progress import configure_logging

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def timed(obj, name: str, clock: dict, key: str, after=None) -> None:
    """Wrap obj.name so that its wall time adds to clock[key]."""
    inner = getattr(obj, name)

    def wrapper(*a, **k):
        s = time.perf_counter()
        out = inner(*a, **k)
        clock[key] += time.perf_counter() - s
        if after:
            after()
        return out
    setattr(obj, name, wrapper)


def run_mode(case, domain, steps: int, reuse: bool, llg_solver: str, comm) -> tuple[list, list]:
    """`steps` steps of the case with the given solver policy: (per-step rows, table rows)."""
    case = case.replace("dynamics", t_end_s=steps * 1e-12, reuse_solver=reuse, llg_solver=llg_solver)
    problem = make_problem(case, domain)
    rows: list[dict] = []
    clock = {"electrons": 0.0, "assemble": 0.0, "llg": 0.0, "demag": 0.0, "its": 0, "rebuilds": 0}
    last = {"t": 0.0, "u": None}

    def turn_deg(u) -> float:
        """The largest angle [deg] any node of u turned since the last step (how far the
        electrons' operator moved: their solve starts from the last solution)."""
        x = u.x.array.reshape(-1, 3)[:u.function_space.dofmap.index_map.size_local]
        prev, last["u"] = last["u"], x.copy()
        if prev is None:
            return float("nan")
        magnet = (np.linalg.norm(x, axis=1) > 0.5) & (np.linalg.norm(prev, axis=1) > 0.5)  # u = 0 elsewhere
        dots = np.clip(np.sum(x[magnet] * prev[magnet], axis=1), -1.0, 1.0)
        return comm.allreduce(float(np.degrees(np.arccos(dots)).max(initial=0.0)), op=MPI.MAX)

    def on_step(t, coupling):
        if not hasattr(coupling, "_timed"):  # wrap on the first call (the prime)
            coupling._timed = True
            timed(coupling.llg, "step", clock, "llg")
            if coupling.llg.demag is not None:  # its Poisson solve and projection, inside the step
                timed(coupling.llg.demag.field, "compute", clock, "demag")
            timed(coupling.solver, "assemble_matrix", clock, "assemble")
            timed(coupling, "update_accumulation", clock, "electrons",
                  after=lambda: clock.update(its=coupling.solver.iterations,
                                             rebuilds=coupling.solver.rebuilds))
            last["t"] = time.perf_counter()
            turn_deg(coupling.llg.u)
            return
        now = time.perf_counter()
        rows.append({"step": len(rows) + 1, "t_s": t, "wall_s": now - last["t"],
                     "electrons_s": clock["electrons"], "electron_assembly_s": clock["assemble"],
                     "electron_iterations": clock["its"], "preconditioner_builds": clock["rebuilds"],
                     "llg_s": clock["llg"], "llg_iterations": coupling.llg.iterations,
                     "demag_s": clock["demag"], "max_turn_deg": turn_deg(coupling.llg.u),
                     "rss_mb": rss_mb()})
        clock.update(electrons=0.0, llg=0.0, assemble=0.0, demag=0.0)
        last["t"] = now

    real = dynamics.run_dynamics
    dynamics.run_dynamics = lambda *a, **k: real(*a, **{**k, "callback": on_step})
    try:
        table = list(run_coupled(case, problem, None))
    finally:
        dynamics.run_dynamics = real
    rss = comm.gather([r["rss_mb"] for r in rows], root=0)
    if comm.rank == 0:
        for k, r in enumerate(rows):
            r["rss_mb_all_ranks"] = sum(x[k] for x in rss)
    return rows, table


def summarise(rows: list[dict]) -> dict:
    col = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    n = len(rows)
    return {"steps": n, "mean_step_s": col["wall_s"].mean(), "mean_electrons_s": col["electrons_s"].mean(),
            "mean_electron_assembly_s": col["electron_assembly_s"].mean(),
            "mean_electron_iterations": col["electron_iterations"].mean(),
            "max_electron_iterations": int(col["electron_iterations"].max()),
            "preconditioner_builds": int(rows[-1]["preconditioner_builds"]),
            "mean_llg_s": col["llg_s"].mean(), "max_llg_iterations": int(col["llg_iterations"].max()),
            "mean_demag_s": col["demag_s"].mean(),
            "mean_max_turn_deg": float(np.nanmean(col["max_turn_deg"])),
            "mean_rest_s": (col["wall_s"] - col["electrons_s"] - col["llg_s"]).mean(),
            "rss_all_ranks_mb_step_1_100_last": [rows[0]["rss_mb_all_ranks"],
                                                 rows[min(99, n - 1)]["rss_mb_all_ranks"],
                                                 rows[-1]["rss_mb_all_ranks"]]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200, help="steps of 'after'")
    ap.add_argument("--before-steps", type=int, default=20, help="steps of 'before' (0: skip it)")
    ap.add_argument("--h", type=float, default=2.0)
    ap.add_argument("--h-interface", type=float, default=1.0)
    ap.add_argument("--preset", default="iterative")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dyn3d")
    ap.add_argument("--demag", action="store_true",
                    help="with the demagnetizing field (off by default: the electrons' cost is measured)")
    args = ap.parse_args()
    configure_logging()
    comm = MPI.COMM_WORLD

    raw = read_raw(ROOT / "demos" / "spin_valve_current.toml")
    raw["geometry"]["parameters"] = {"h": args.h, "h_interface": args.h_interface}
    raw["material"].update(A_ex_J_per_m=2e-11, alpha_G=0.02)
    raw["regions"]["fixed"]["dynamic"] = False
    raw["dynamics"] = {"t_end_s": 1e-12, "dt_s": 1e-12, "checkpoint_every": 0, "demag": args.demag}
    raw["solver"] = {"preset": args.preset}
    case = as_case(resolve_case(raw, ROOT / "demos"))
    dim = comm.bcast(check_device_file(case) if comm.rank == 0 else None, root=0)
    case = case.replace("geometry", dim=dim)
    domain = build_domain(case, comm)

    problem = make_problem(case, domain)
    t0 = time.perf_counter()
    problem.solve()  # the cold steady solve: a fresh solver, m from 0
    cold = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    summary = {"ranks": comm.size, "dofs": problem.num_dofs, "preset": problem.solver, "h": args.h,
               "h_interface": args.h_interface, "cold_solve_s": cold, "cold_iterations": problem.iterations}
    del problem

    modes = {"after": (args.steps, True, "iterative")}
    if args.before_steps:
        modes = {"before": (args.before_steps, False, "direct"), **modes}
    tables = {}
    for mode, (steps, reuse, llg_solver) in modes.items():
        rows, tables[mode] = run_mode(case, domain, steps, reuse, llg_solver, comm)
        if comm.rank == 0:
            summary[mode] = summarise(rows)
            args.out.mkdir(parents=True, exist_ok=True)
            with open(args.out / f"steps_{mode}.csv", "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
    if comm.rank != 0:
        return
    if len(tables) == 2:
        a, b = tables["before"], tables["after"]
        cols = [k for k in a[0] if k.startswith(("u_", "m_"))]
        summary["max_difference_before_after"] = {
            q: max(abs(x[k] - y[k]) for x, y in zip(a, b) for k in cols if k.startswith(q))
            for q in ("u_", "m_")}
        summary["max_abs_m_average"] = max(abs(x[k]) for x in a for k in cols if k.startswith("m_"))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{'mode':>6} {'ranks':>5} {'DOFs':>8} {'cold s':>7} {'steps':>5} {'step s':>7} {'step/cold':>9} "
          f"{'elec s':>7} {'asm s':>6} {'its':>5} {'builds':>6} {'turn deg':>8} {'LLG s':>6} {'demag s':>7} {'rest s':>6} "
          f"{'RSS 1/100/last MB':>18}")
    for mode in modes:
        s = summary[mode]
        print(f"{mode:>6} {comm.size:>5} {summary['dofs']:>8} {cold:7.2f} {s['steps']:>5} {s['mean_step_s']:7.2f} "
              f"{s['mean_step_s'] / cold:9.2f} {s['mean_electrons_s']:7.2f} {s['mean_electron_assembly_s']:6.2f} "
              f"{s['mean_electron_iterations']:5.1f} {s['preconditioner_builds']:>6} {s['mean_max_turn_deg']:8.3g} "
              f"{s['mean_llg_s']:6.2f} "
              f"{s['mean_demag_s']:7.2f} "
              f"{s['mean_rest_s']:6.2f} {'/'.join(f'{x:.0f}' for x in s['rss_all_ranks_mb_step_1_100_last']):>18}")
    if "max_difference_before_after" in summary:
        d = summary["max_difference_before_after"]
        print(f"largest difference of the region averages over {modes['before'][0]} steps: u {d['u_']:.2e}, "
              f"m {d['m_']:.2e} (of |m| up to {summary['max_abs_m_average']:.3g})")


if __name__ == "__main__":
    main()
