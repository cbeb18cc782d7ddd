"""Solver benchmark on the real operator: 3D slab, P1 or P2 vector, a0 = beta = 100.

    python benchmarks/solvers.py [--h 1.2 0.9 0.75 0.6] [--ranks 1 2] [--degree 2]
                                 [--methods iterative] [--out benchmarks/results/p2]

For each mesh size h (uniform; L = 100 nm, 10 x 10 nm cross-section unless --length/--width
say otherwise) and rank count it runs
each method in its own `mpirun` process (so peak memory is per run) and prints a table:
DOFs, mesh / assembly / solve time, iterations, peak memory per rank, and the time of a
scalar Poisson solve (CG + GAMG) with about the same number of DOFs on the same geometry
(h / 3^(1/3) for P1, h / 21^(1/3) for P2) as a reference; `solve_vs_poisson` is the solve
time per DOF over the Poisson solve time per DOF of the same invocation (the DOF counts
differ by up to 25%; both solves scale about linearly). Saves results.csv and
time_vs_dofs.png. Methods that fail (GAMG, ILU, ASM) run only on the smallest mesh, capped
at 300 iterations. Results and analysis: docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

METHODS = {
    "direct": ("direct", {}),
    "iterative": ("iterative", {}),  # the p-multigrid (degree 2)
    "iterative-galerkin": ("iterative", {"pmg_lumping": 0.0}),
    "iterative-blrcoarse": ("iterative", {"mg_coarse_mat_mumps_icntl_35": 1,
                                          "mg_coarse_mat_mumps_cntl_7": 1e-5}),
    "blr": ("blr", {}),
    "blr-1e-4": ("blr", {"mat_mumps_cntl_7": 1e-4}),
    "blr-1e-3": ("blr", {"mat_mumps_cntl_7": 1e-3}),
    "shifted": ("shifted", {}),
    "gamg": ("blr", {"pc_type": "gamg", "ksp_max_it": 300}),
    "ilu": ("blr", {"pc_type": "bjacobi", "sub_pc_type": "ilu", "ksp_max_it": 300}),
    "asm": ("blr", {"pc_type": "asm", "pc_asm_blocks": 8, "pc_asm_overlap": 4,
                    "sub_ksp_type": "preonly", "sub_pc_type": "lu", "ksp_max_it": 300}),
}
LOSERS = ("gamg", "ilu", "asm")


# Nodes of a P_k mesh over nodes of P1 on the same Gmsh tetrahedra (measured: 7.0 for P2).
NODE_RATIO = {1: 1.0, 2: 7.0}


def worker(h: float, method: str, a0: float = 100.0, degree: int = 1, length: float = 100.0,
           width: float = 10.0) -> dict:
    import fem_spin._backend  # noqa: F401
    from mpi4py import MPI

    from fem_spin.physics.magnetization import Interface
    from fem_spin.physics.material import Material
    from fem_spin.geometry.mesh import SlabGeometry, build_slab
    from fem_spin.physics.problem import slab_problem

    comm = MPI.COMM_WORLD
    row: dict = {"method": method, "h_nm": h, "ranks": comm.size, "a0_beta": a0, "degree": degree,
                 "length_nm": length, "width_nm": width}
    t = time.perf_counter()
    if method == "poisson":  # P1, about the same DOF count as the 3-vector P_k problem
        h = h / (3 * NODE_RATIO[degree]) ** (1 / 3)
    dom = build_slab(SlabGeometry(dim=3, length=length, width=width, h_interface=h, h_far=h), comm)
    row["mesh_s"] = comm.allreduce(time.perf_counter() - t, op=MPI.MAX)
    if method == "poisson":
        row.update(poisson(dom))
    else:
        preset, extra = METHODS[method]
        mat = Material(D=1e-3, tau_sf=1e-11, a0=a0, omega0=a0 / 1e-11)
        p = slab_problem(dom, mat, Interface(theta=90.0, width=0.6), degree=degree,
                         solver=preset, petsc_options=extra)
        row["dofs"] = p.num_dofs
        row["quadrature_degree"] = p.form.quadrature_degree
        t = time.perf_counter()
        s = p.make_solver()
        s.assemble_matrix()
        row["assemble_s"] = comm.allreduce(time.perf_counter() - t, op=MPI.MAX)
        t = time.perf_counter()
        try:
            s.solve(p.m)
            row["converged"] = True
        except Exception:  # noqa: BLE001 - a failing method is a result here
            row["converged"] = False
        row["solve_s"] = comm.allreduce(time.perf_counter() - t, op=MPI.MAX)
        row["iterations"] = s.ksp.getIterationNumber()
        s.destroy()
    row["peak_mem_mb"] = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                        op=MPI.MAX)
    return row


def poisson(dom) -> dict:
    """-lap u = 1, u = 0 at the ends: CG + GAMG to 1e-8."""
    import ufl
    from mpi4py import MPI
    from petsc4py import PETSc

    import dolfinx
    from fem_spin.solvers.linear import LinearSolver

    comm = dom.comm
    V = dolfinx.fem.functionspace(dom.mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    fdim = dom.mesh.topology.dim - 1
    facets = dom.facet_tags.indices[dom.facet_tags.values != dom.facets["interface"]]
    bc = dolfinx.fem.dirichletbc(PETSc.ScalarType(0), dolfinx.fem.locate_dofs_topological(V, fdim, facets), V)
    a = ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
    L = ufl.inner(dolfinx.fem.Constant(dom.mesh, PETSc.ScalarType(1.0)), v) * ufl.dx
    t = time.perf_counter()
    s = LinearSolver(a, L, [bc], "blr", {"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-8},
                     name="poisson")
    s.assemble_matrix()
    out = {"assemble_s": comm.allreduce(time.perf_counter() - t, op=MPI.MAX)}
    uh = dolfinx.fem.Function(V)
    t = time.perf_counter()
    s.solve(uh)
    out.update(solve_s=comm.allreduce(time.perf_counter() - t, op=MPI.MAX),
               iterations=s.ksp.getIterationNumber(), converged=True,
               dofs=V.dofmap.index_map.size_global)
    s.destroy()
    return out


def run_one(ranks: int, h: float, method: str, timeout: float, a0: float = 100.0, degree: int = 1,
            length: float = 100.0, width: float = 10.0) -> dict:
    mpirun = Path(sys.executable).parent / "mpirun"
    cmd = [str(mpirun) if mpirun.exists() else "mpirun", "-n", str(ranks), sys.executable, __file__,
           "--worker", "--h", str(h), "--method", method, "--a0", str(a0),
           "--length", str(length), "--width", str(width),
           "--degree", str(degree)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        return {"method": method, "h_nm": h, "ranks": ranks, "converged": False, "note": "timeout"}
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    return {"method": method, "h_nm": h, "ranks": ranks, "converged": False,
            "note": (proc.stderr.strip().splitlines() or ["crashed"])[-1][:80]}


COLS = ["method", "degree", "a0_beta", "length_nm", "width_nm", "ranks", "h_nm", "dofs", "mesh_s", "assemble_s", "solve_s", "iterations",
        "peak_mem_mb", "converged", "solve_vs_poisson"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--h", type=float, nargs="+", default=[1.2, 0.9, 0.75, 0.6])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--methods", nargs="+", default=["iterative"], choices=sorted(METHODS),
                    metavar="METHOD", help=f"any of {', '.join(METHODS)} (default: iterative)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--a0", type=float, nargs="+", default=[100.0],
                    help="values of a0 = beta (tensor and precession strength) to sweep")
    ap.add_argument("--degree", type=int, default=2, choices=(1, 2),
                    help="Lagrange degree of m (iterative needs 2)")
    ap.add_argument("--out", type=Path, default=None, help="default benchmarks/results/p<degree>")
    ap.add_argument("--length", type=float, default=100.0, help="slab length [nm] (default 100)")
    ap.add_argument("--width", type=float, default=10.0, help="cross-section side [nm] (default 10)")
    ap.add_argument("--append", action="store_true",
                    help="add the rows to an existing results.csv (table and plot show all)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        row = worker(args.h[0], args.method, args.a0[0], args.degree, args.length, args.width)
        from mpi4py import MPI

        if MPI.COMM_WORLD.rank == 0:
            print(json.dumps(row), flush=True)
        return
    args.out = args.out or Path(f"benchmarks/results/p{args.degree}")
    rows = read_rows(args.out / "results.csv") if args.append else []
    for ranks in args.ranks:
        for i, h in enumerate(args.h):
            ref = run_one(ranks, h, "poisson", args.timeout, degree=args.degree, length=args.length,
                          width=args.width)
            rows.append(ref)
            for method, a0 in ((m, a) for m in args.methods for a in args.a0):
                if method in LOSERS and i > 0:
                    continue
                row = run_one(ranks, h, method, args.timeout, a0, args.degree, args.length, args.width)
                rows.append(row)
                add_ratios(rows)
                print(fmt(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLS + ["note"], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    print(f"\nmachine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores\n")
    print(" | ".join(COLS))
    for row in rows:
        print(fmt(row))
    plot(rows, args.out / "time_vs_dofs.png")


def key(row: dict) -> tuple:
    """What makes a Poisson run the reference of a row: ranks, h, degree and geometry."""
    return (row["ranks"], row["h_nm"], row.get("degree", 1), row.get("length_nm", 100.0),
            row.get("width_nm", 10.0))


def add_ratios(rows: list[dict]) -> None:
    """solve_vs_poisson: solve time per DOF over that of the Poisson run with the same ranks, h,
    degree and geometry."""
    ref = {key(r): r for r in rows
           if r["method"] == "poisson" and r.get("solve_s")}
    for r in rows:
        p = ref.get(key(r))
        if r["method"] != "poisson" and p and r.get("solve_s") and r.get("dofs"):
            r["solve_vs_poisson"] = (r["solve_s"] / r["dofs"]) / (p["solve_s"] / p["dofs"])


def read_rows(path: Path) -> list[dict]:
    """Rows of an earlier results.csv, numbers as numbers."""
    if not path.exists():
        return []

    def parse(v: str):
        for conv in (int, float):
            try:
                return conv(v)
            except ValueError:
                pass
        return {"True": True, "False": False}.get(v, v)

    with open(path, newline="") as fh:
        return [{k: parse(v) for k, v in r.items() if v != ""} for r in csv.DictReader(fh)]


def fmt(row: dict) -> str:
    def f(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)
    return " | ".join(f(row.get(c, "")) for c in COLS) + (f"  ({row['note']})" if row.get("note") else "")


def plot(rows: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    rows = [r for r in rows if (r.get("length_nm", 100.0), r.get("width_nm", 10.0)) == (100.0, 10.0)]
    for (method, ranks) in sorted({(r["method"], r["ranks"]) for r in rows}):
        pts = [(r["dofs"], r["solve_s"]) for r in rows if r["method"] == method and r["ranks"] == ranks
               and r.get("converged") and r.get("dofs") and r.get("a0_beta", 100) == 100]
        if pts:
            x, y = zip(*sorted(pts))
            ax.loglog(x, y, "o-" if ranks == 1 else "s--", label=f"{method}, {ranks} rank(s)")
    ax.set_title(f"3D slab 100 x 10 x 10 nm, P{rows[0].get('degree', 1)}, a0 = beta = 100", fontsize=9)
    ax.set_xlabel("DOFs"), ax.set_ylabel("solve time [s]"), ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png)


if __name__ == "__main__":
    main()
