"""Cost and accuracy of the demagnetizing field (fem_spin.physics.magnetostatics).

    python benchmarks/magnetostatics.py [--h 3 2 1.5 1] [--ranks 1 2] [--evals 10] [--out DIR]
    python benchmarks/magnetostatics.py --study        # the accuracy tables of docs/magnetostatics.md

Cost: a sphere of radius R (10 nm) in air (R1 = 2R, R2 = 2 R1), each mesh size h on each rank
count in its own `mpirun` process. It reports the mesh, the set-up (matrix assembly and GAMG,
once), the first evaluation (CG from phi = 0) and then `evals` evaluations with u turning by
2 degrees each (as an LLG step would change it), each starting from the previous phi: CG
iterations and seconds, the right side, and the projection to P1; and, for comparison, the
last u solved again from phi = 0. Times are the slowest rank's.

Study: error against the closed forms as the mesh, the radii, the shell's map, its mesh, the
quadrature degree, the degree of phi and the projection change (serial).

    python benchmarks/magnetostatics.py --film [--h 3] [--ranks 2]

Film: SP4's 500 x 125 x 3 nm film (demos/sp4.toml's device) with each demag method of the LLG
(`[dynamics] demag_method`, fem_spin.physics.device_fields.DeviceDemag): the set-up (the twin's
mesh and GAMG, or FEM-BEM's boundary matrix), the demagnetizing tensor against Aharoni's
prism, and `evals` evaluations as the LLG makes them (u turned by 0.2 degrees each, CG from
the extrapolated potential): seconds each, with their parts.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fem_spin._backend import MPI, dolfinx, ufl
from fem_spin.geometry import air
from fem_spin.physics.magnetostatics import MU0, DemagField, OerstedField

MS = 8.0e5
# Aharoni's N_xx, N_yy, N_zz of the 500 x 125 x 3 nm prism (tests/test_magnetostatics.aharoni_nz)
SP4_AHARONI = (0.0091796704, 0.0381761231, 0.9526442066)


def uniform(e):
    e = np.asarray(e, float)
    return lambda x: np.repeat(e[:, None], x.shape[1], axis=1)


def sphere(h: float, R: float = 10.0, R1f: float = 2.0, R2f: float = 2.0, hf: float | None = None,
           comm=MPI.COMM_WORLD, **box_kw):
    box = air.AirBox(R1=R1f * R, R2=R2f * R1f * R, h_magnet=h, h_far=hf or 3 * h, **box_kw)
    return air.build_embedded(functools.partial(air.add_spheroid, a=R, c=R), box, comm=comm), box


# --- cost ------------------------------------------------------------------------------------

def worker(h: float, R: float, evals: int, degree: int) -> dict:
    comm = MPI.COMM_WORLD
    t = time.perf_counter()
    dom, _ = sphere(h, R)
    mesh_s = comm.allreduce(time.perf_counter() - t, op=MPI.MAX)
    demag = DemagField.from_domain(dom, {"magnet": MS}, degree=degree)
    out = {"ranks": comm.size, "h_nm": h, "R_nm": R, "degree": degree, "cells": dom.num_cells(),
           "dofs": demag.poisson.num_dofs, "mesh_s": mesh_s, "setup_s": demag.timings["setup_s"]}
    demag.compute(uniform((0, 0, 1)))
    out.update(first_its=demag.timings["iterations"], first_s=demag.timings["solve_s"],
               N_err=-demag.average()[2] / MS * 3 - 1)
    rows = []
    for k in range(1, evals + 1):
        a = math.radians(2 * k)
        demag.compute(uniform((math.sin(a), 0.0, math.cos(a))))
        rows.append([demag.timings[n] for n in ("iterations", "solve_s", "rhs_solve_s", "project_s")])
    its, solve, rhs_solve, proj = np.mean(rows, axis=0)
    out.update(warm_its=its, warm_solve_s=solve, rhs_s=rhs_solve - solve, project_s=proj,
               project_its=demag.project.iterations)
    demag.phi.x.array[:] = 0.0
    demag.compute()
    out.update(cold_its=demag.timings["iterations"], cold_s=demag.timings["solve_s"])
    demag.destroy()
    return out


def run_one(ranks: int, h: float, R: float, evals: int, degree: int, timeout: float) -> dict:
    mpirun = Path(sys.executable).parent / "mpirun"
    cmd = [str(mpirun) if mpirun.exists() else "mpirun", "-n", str(ranks), sys.executable, __file__,
           "--worker", "--h", str(h), "--radius", str(R), "--evals", str(evals), "--degree", str(degree)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        return {"ranks": ranks, "h_nm": h, "note": "timeout"}
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    return {"ranks": ranks, "h_nm": h, "note": (proc.stderr.strip().splitlines() or ["crashed"])[-1][:80]}


def film_worker(h: float, evals: int, method: str) -> dict:
    """One demag method on SP4's film, built as a case builds it (app.build.llg_of)."""
    import tomllib

    from fem_spin.app.build import build_domain, llg_of, make_problem
    from fem_spin.app.preflight import check_device_file
    from fem_spin.io.case import resolve_case
    from fem_spin.io.model import as_case

    comm = MPI.COMM_WORLD
    root = Path(__file__).resolve().parents[1]
    raw = tomllib.loads((root / "demos" / "sp4.toml").read_text())
    raw["geometry"].update(file=str(root / "meshes" / "sp4.geo"), parameters={"h": h})
    raw["dynamics"].update(demag_method=method, stages=[], t_end_s=1e-12)
    case = as_case(resolve_case(raw))
    case = case.replace("geometry", dim=comm.bcast(check_device_file(case) if comm.rank == 0 else None))
    problem = make_problem(case, build_domain(case, comm))
    t = time.perf_counter()
    llg = llg_of(case, problem)
    setup = comm.allreduce(time.perf_counter() - t, op=MPI.MAX)
    demag = llg.demag
    N = np.diag(demag.tensor())
    exact = np.array(SP4_AHARONI)
    rows = []
    u = llg.u.x.array.reshape(-1, 3)
    for k in range(evals + 3):  # three to fill the extrapolation's history
        a_k = math.radians(0.2 * k)
        u[:, 0], u[:, 1], u[:, 2] = math.cos(a_k), math.sin(a_k), 0.0
        llg.u.x.scatter_forward()
        t = time.perf_counter()
        demag(llg.u)
        rows.append((comm.allreduce(time.perf_counter() - t, op=MPI.MAX), dict(demag.timings)))
    rows = rows[3:]
    out = {"method": method, "ranks": comm.size, "h_nm": h, "device_cells": problem.domain.num_cells(),
           "setup_s": setup, "eval_s": float(np.mean([r[0] for r in rows])),
           "its": float(np.mean([r[1].get("iterations", 0) for r in rows])),
           "N": N.tolist(), "N_err": (N / exact - 1).tolist()}
    for key in ("neumann_s", "boundary_s", "solve_s", "project_s", "matrix_s"):
        if key in rows[-1][1]:
            out[key] = float(np.mean([r[1][key] for r in rows]))
    field = demag.field
    out["field_dofs"] = field.num_dofs if hasattr(field, "num_dofs") else field.poisson.num_dofs
    llg.destroy()
    return out


def film_table(rows: list[dict]) -> str:
    lines = ["| method | ranks | h nm | field DOFs | set-up s | s/eval | CG its | parts s (Neumann, B product, projection / CG, projection) | N_xx, N_yy, N_zz error |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "note" in r:
            lines.append(f"| {r['method']} | {r['ranks']} | {r['h_nm']} | {r['note']} |")
            continue
        parts = [r[k] for k in ("neumann_s", "boundary_s", "project_s") if k in r] if r["method"] == "fembem" \
            else [r.get("solve_s", float("nan")), r.get("project_s", float("nan"))]
        lines.append(f"| {r['method']} | {r['ranks']} | {r['h_nm']:g} | {r['field_dofs']} | {r['setup_s']:.1f} | "
                     f"{r['eval_s']:.3f} | {r['its']:.1f} | {', '.join(f'{v:.3f}' for v in parts)} | "
                     + ", ".join(f"{e:+.2%}" for e in r["N_err"]) + " |")
    return "\n".join(lines)


def run_film(ranks: int, h: float, evals: int, method: str, timeout: float) -> dict:
    mpirun = Path(sys.executable).parent / "mpirun"
    cmd = [str(mpirun) if mpirun.exists() else "mpirun", "-n", str(ranks), sys.executable, __file__,
           "--worker", "--film", "--h", str(h), "--evals", str(evals), "--method", method]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"method": method, "ranks": ranks, "h_nm": h, "note": "timeout"}
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    return {"method": method, "ranks": ranks, "h_nm": h,
            "note": (proc.stderr.strip().splitlines() or ["crashed"])[-1][:80]}


COLS = [("ranks", "ranks", "d"), ("h_nm", "h nm", "g"), ("cells", "cells", "d"), ("dofs", "DOFs", "d"),
        ("mesh_s", "mesh s", ".2f"), ("setup_s", "set-up s", ".2f"), ("first_its", "1st its", "d"),
        ("first_s", "1st s", ".3f"), ("warm_its", "its/eval", ".1f"), ("warm_solve_s", "solve s/eval", ".3f"),
        ("rhs_s", "rhs s/eval", ".4f"), ("project_s", "proj. s/eval", ".4f"), ("cold_its", "cold its", "d"),
        ("N_err", "N error", "+.2%")]


def table(rows: list[dict]) -> str:
    head = "| " + " | ".join(c[1] for c in COLS) + " |"
    lines = [head, "|" + "---|" * len(COLS)]
    for r in rows:
        if "note" in r:
            lines.append(f"| {r['ranks']} | {r['h_nm']} | {r['note']} |")
            continue
        lines.append("| " + " | ".join(format(int(r[k]) if f == "d" else r[k], f) for k, _, f in COLS) + " |")
    return "\n".join(lines)


# --- study -----------------------------------------------------------------------------------

def sphere_errors(h=2.0, R1f=2.0, R2f=2.0, degree=2, projection="l2", **kw) -> dict:
    shell = {k: kw.pop(k) for k in ("mapping", "power", "quadrature_degree") if k in kw}
    dom, box = sphere(h, R1f=R1f, R2f=R2f, comm=MPI.COMM_SELF, **kw)
    demag = DemagField.from_domain(dom, {"magnet": MS}, degree=degree, projection=projection, **shell)
    H = demag.compute(uniform((0, 0, 1)))
    ex = ufl.as_vector([0.0, 0.0, -MS / 3])
    e2 = dolfinx.fem.assemble_scalar(dolfinx.fem.form(ufl.inner(H - ex, H - ex) * demag.dxm))
    n2 = dolfinx.fem.assemble_scalar(dolfinx.fem.form(ufl.inner(ex, ex) * demag.dxm))
    out = {"cells": dom.num_cells(), "dofs": demag.poisson.num_dofs, "its": demag.timings["iterations"],
           "N": -demag.average()[2] / MS * 3 - 1, "L2": math.sqrt(e2 / n2),
           "E": demag.energy() / (MU0 / 6 * MS**2 * demag.volume * 1e-27) - 1}
    demag.destroy()
    return out


def wire_errors(projection: str, h: float = 1.0) -> dict:
    """Max error of B (P1 on the wire / on the air) for the 2D wire of the tests, / peak."""
    from fem_spin.io.output import sample

    a, off, j = 10.0, 15.0, 1e11
    box = air.AirBox(R1=40.0, R2=80.0, h_magnet=h, h_far=3 * h)
    dom = air.build_embedded(functools.partial(air.add_disk, radius=a, center=(off, 0.0)), box, dim=2,
                             comm=MPI.COMM_SELF)
    oe = OerstedField.from_domain(dom, "wire", projection=projection)
    rng = np.random.default_rng(5)
    r = np.linspace(0.05 * a, 2.4 * a, 200)
    th = rng.uniform(0, 2 * np.pi, 200)
    pts = np.column_stack([off + r * np.cos(th), r * np.sin(th), 0 * r])
    jz = dolfinx.fem.Constant(dom.mesh, dolfinx.default_scalar_type(j))
    B_in = sample(oe.compute(jz, cells=dom.cells["wire"]), pts)
    B_out = sample(oe.compute(cells=dom.cells["air"]), pts)
    B_pt = oe.field_at(pts)
    oe.destroy()
    I = j * math.pi * (a * 1e-9) ** 2
    B_phi = np.where(r < a, MU0 * I * r / (2 * math.pi * a * a * 1e-9), MU0 * I / (2 * math.pi * r * 1e-9))
    exact = B_phi[:, None] * np.column_stack([-np.sin(th), np.cos(th)])
    peak = MU0 * I / (2 * math.pi * a * 1e-9)
    inside, outside = r < a - 0.5, r > a + 0.5
    err = lambda v, m: float(np.max(np.linalg.norm(v[m] - exact[m], axis=1)) / peak)  # noqa: E731
    return {"in": err(B_in, inside), "out": err(B_out, outside), "pointwise": err(B_pt, inside | outside)}


def study() -> None:
    def show(title, rows, keys):
        print(f"\n{title}\n")
        print("| " + " | ".join(keys) + " | cells | DOFs | CG its | N error | H_d L2 error | E error |")
        print("|" + "---|" * (len(keys) + 6))
        for params, r in rows:
            print("| " + " | ".join(str(params.get(k, "")) for k in keys)
                  + f" | {r['cells']} | {r['dofs']} | {r['its']} | {r['N']:+.2%} | {r['L2']:.2%}"
                  + f" | {r['E']:+.2%} |",
                  flush=True)

    runs = ([dict(degree=2, h=h) for h in (3.0, 2.0, 1.5, 1.0)]
            + [dict(degree=1, h=h) for h in (2.0, 1.5, 1.0)])
    show("Sphere R = 10 nm, R1 = 2R, R2 = 2 R1: error vs h and the degree of phi",
         [(p, sphere_errors(**p)) for p in runs], ["degree", "h"])
    runs = [dict(R1f=f) for f in (1.25, 1.5, 2.0, 3.0)]
    show("h = 2 nm: vs the air ball R1 (R2 = 2 R1)", [(p, sphere_errors(**p)) for p in runs], ["R1f"])
    runs = ([dict(mapping="power", power=1.0, R2f=f) for f in (1.5, 2.0, 3.0)]
            + [dict(mapping="power", power=2.0, R2f=f) for f in (2.0, 3.0)]
            + [dict(mapping="rational", R2f=2.0)])
    show("h = 2 nm, R1 = 2R: vs the map and R2/R1", [(p, sphere_errors(**p)) for p in runs],
         ["mapping", "power", "R2f"])
    runs = [dict(h_outer=None), dict(h_outer=6.0), dict(h_outer=3.0)]
    show("h = 2 nm, R1 = 2R, R2 = 2 R1, h_far = 6 nm: vs the shell's size at R2 (default 2 h_far)",
         [(p, sphere_errors(**p)) for p in runs], ["h_outer"])
    runs = [dict(quadrature_degree=q) for q in (2, 3, 4)]
    show("h = 2 nm: vs the shell's quadrature degree", [(p, sphere_errors(**p)) for p in runs],
         ["quadrature_degree"])
    runs = [dict(projection=k, h=h) for k in ("l2", "lumped") for h in (2.0, 1.5)]
    show("the P1 projection of H_d", [(p, sphere_errors(**p)) for p in runs], ["projection", "h"])
    print("\n2D wire (a = 10 nm, h = 1 nm): max |B - B_exact| / B(a)\n")
    print("| projection | P1 on the wire | P1 on the air | pointwise |\n|---|---|---|---|")
    for kind in ("l2", "lumped"):
        e = wire_errors(kind)
        print(f"| {kind} | {e['in']:.2%} | {e['out']:.2%} | {e['pointwise']:.2%} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--h", type=float, nargs="+", default=[3.0, 2.0, 1.5, 1.0])
    ap.add_argument("--radius", type=float, default=10.0)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--evals", type=int, default=10)
    ap.add_argument("--degree", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--out", type=Path, help="also write results.csv there")
    ap.add_argument("--study", action="store_true", help="print the accuracy tables instead")
    ap.add_argument("--film", action="store_true", help="SP4's film with each demag method instead")
    ap.add_argument("--method", default="shell", help=argparse.SUPPRESS)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker and args.film:
        out = film_worker(args.h[0], args.evals, args.method)
        if MPI.COMM_WORLD.rank == 0:
            print(json.dumps(out), flush=True)
        return
    if args.film:
        rows = [run_film(ranks, h, args.evals, method, args.timeout)
                for ranks in (args.ranks if "--ranks" in sys.argv else [2])
                for h in (args.h if "--h" in sys.argv else [3.0]) for method in ("shell", "fembem")]
        print(film_table(rows))
        return
    if args.worker:
        out = worker(args.h[0], args.radius, args.evals, args.degree)
        if MPI.COMM_WORLD.rank == 0:
            print(json.dumps(out), flush=True)
        return
    if args.study:
        study()
        return
    rows = []
    for ranks in args.ranks:
        for h in args.h:
            rows.append(run_one(ranks, h, args.radius, args.evals, args.degree, args.timeout))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "results.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
