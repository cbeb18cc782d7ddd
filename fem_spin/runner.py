"""Run a resolved case: mesh, assemble, solve, write. Used by the CLI and the demos."""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._backend import MPI, PETSc, dolfinx
from . import magnetization as magn
from .case import CaseError, dump_toml
from .material import Material
from .mesh import Domain, SlabGeometry, build_slab, read_msh
from .output import atomic_dir, axis_points, derived_fields, sample, write_paraview, write_profile_csv
from .problem import SpinProblem, slab_problem
from .progress import logger, stage

# Above these DOF counts `solver.preset = "auto"` leaves MUMPS LU: with degree 2 for the
# p-multigrid ("iterative"), with P1 (no P1 coarse level) for "blr" or "shifted"; both
# faster and lighter than LU there on 1 and 2 ranks (docs/benchmark.md).
AUTO_ITERATIVE_DOFS = 50_000
AUTO_P1_DOFS = 150_000
# More cells than this (estimated before meshing) need geometry.allow_large: Gmsh meshes on
# rank 0 alone (about 10 s per 1e6 tetrahedra here) and a P2 solve takes ~15 KB per cell
# (2.8 GB for the 2e5 cells of the 8.4e5-DOF benchmark run), so 2e7 cells is ~300 GB.
MAX_CELLS = 20_000_000
# The shifted-Laplacian preconditioner converges in ~70 mesh-independent iterations at
# a0 = beta = 10 and not at all at 100 (the transverse block becomes Helmholtz-like).
SHIFTED_MAX_A0_BETA = 100.0


def versions() -> dict[str, str]:
    """Versions of the stack, for `fem-spin info` and the saved case."""
    from . import __version__

    return {
        "fem_spin": __version__,
        "dolfinx": dolfinx.__version__,
        "petsc": ".".join(map(str, PETSc.Sys.getVersion())),
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
        "mpi4py": __import__("mpi4py").__version__,
        "python": platform.python_version(),
        "ranks": str(MPI.COMM_WORLD.size),
    }


def material_from(case: dict) -> Material:
    m = case["material"]
    omega0 = m["omega0_per_s"] if m["exchange_eV"] is None else Material.omega_from_exchange(m["exchange_eV"])
    return Material(D=m["D_m2_per_s"], tau_sf=m["tau_sf_s"], a0=m["a0"], omega0=omega0)


def profile_from(case: dict):
    p = case["magnetization"]
    if p["profile"] == "uniform":
        return magn.Uniform(tuple(p["direction"]))
    if p["profile"] == "wall":
        return magn.RotatingWall(theta=p["theta_deg"], width=p["width_nm"],
                                 u_left=tuple(p["u_left"]), dip=p["dip"])
    if case["geometry"]["kind"] == "ring":
        from .ring import RingMagnetization

        return RingMagnetization(side=case["geometry"]["length_nm"], width=p["width_nm"])
    return magn.Interface(theta=p["theta_deg"], width=p["width_nm"], u_left=tuple(p["u_left"]))


def check_resolution(case: dict, material: Material) -> str | None:
    """Refuse (or, with allow_coarse, warn about) an interface mesh too coarse for the physics;
    warn about a far mesh coarser than the transverse length. Returns the warnings or None."""
    geo = case["geometry"]
    wave = 1.0 / abs(material.transverse_k)
    lengths = {"1/|k| (transverse decay)": wave, "l_sf": material.l_sf_nm}
    if case["magnetization"]["profile"] != "uniform":
        lengths["magnetization width w"] = case["magnetization"]["width_nm"]
    name, shortest = min(lengths.items(), key=lambda kv: kv[1])
    h = geo["h_interface_nm"]
    warnings = []
    if h > shortest:
        msg = (f"[geometry] h_interface_nm = {h!r}: too coarse to resolve the shortest length, "
               f"{name} = {shortest:.3g} nm; use h_interface_nm <= {shortest:.3g}")
        if not geo["allow_coarse"]:
            raise CaseError(msg + " (or set geometry.allow_coarse = true to run anyway)")
        warnings.append(msg)
    # Transverse accumulation oscillates on 1/|k| over the whole ferromagnet (it decays only
    # on l_sf), so the far mesh should resolve it too; a coarser one also makes the
    # p-multigrid's P1 level inaccurate and its iterations grow (docs/benchmark.md).
    if geo["h_far_nm"] > 1.01 * wave:
        warnings.append(f"[geometry] h_far_nm = {geo['h_far_nm']!r} is coarser than 1/|k| = "
                        f"{wave:.3g} nm, on which transverse accumulation varies everywhere: "
                        "the far field is under-resolved and the 'iterative' solver slows down")
    return "; ".join(warnings) or None


def geometry_from(case: dict):
    """The SlabGeometry or RingGeometry of a case (its checks raise CaseError)."""
    geo = case["geometry"]
    try:
        if geo["kind"] == "ring":
            from .ring import RingGeometry

            return RingGeometry(dim=geo["dim"], side=geo["length_nm"], width=geo["width_nm"],
                                h_corner=geo["h_interface_nm"], h_far=geo["h_far_nm"],
                                refine_distance=geo["refine_distance_nm"])
        return SlabGeometry(dim=geo["dim"], length=geo["length_nm"], width=geo["width_nm"],
                            h_interface=geo["h_interface_nm"], h_far=geo["h_far_nm"],
                            refine_distance=geo["refine_distance_nm"])
    except ValueError as exc:
        raise CaseError(str(exc)) from None


def check_size(case: dict, meshes: bool | None = None) -> float | None:
    """Estimated cell count of the mesh to build; refuse more than MAX_CELLS unless
    geometry.allow_large, before Gmsh starts. `meshes`: whether a mesh is built (default: unless
    the case reads a mesh file); None is returned when not."""
    geo = case["geometry"]
    if not (geo["mesh_file"] is None if meshes is None else meshes):
        return None
    cells = geometry_from(case).estimated_cells()
    if cells > MAX_CELLS and not geo["allow_large"]:
        sizes = ", ".join(f"{k} = {geo[k]!r}" for k in ("dim", "length_nm", "width_nm",
                                                       "h_interface_nm", "h_far_nm"))
        raise CaseError(f"[geometry] {sizes}: about {cells:.2g} cells (estimate), more than "
                        f"{MAX_CELLS:.0e} (Gmsh meshes on rank 0 alone; a P2 solve needs ~15 KB per "
                        "cell). Coarsen the mesh or shrink the geometry, or set "
                        "geometry.allow_large = true")
    return cells


def build_domain(case: dict, comm: MPI.Comm, msh_file: Path | None = None) -> Domain | None:
    geo = case["geometry"]
    if geo["mesh_file"] is not None and msh_file is None:
        return read_msh(geo["mesh_file"], comm, gdim=geo["dim"])
    if geo["kind"] == "ring":
        from .ring import build_ring

        return build_ring(geometry_from(case), comm, msh_file)
    return build_slab(geometry_from(case), comm, msh_file)


def make_problem(case: dict, domain: Domain, petsc_options: dict | None = None) -> SpinProblem:
    material, profile = material_from(case), profile_from(case)
    opts = dict(case["solver"]["petsc_options"])
    opts.update(petsc_options or {})
    kw: dict[str, Any] = dict(degree=case["discretization"]["degree"],
                              quadrature_degree=case["discretization"]["quadrature_degree"],
                              petsc_options=opts)
    if case["geometry"]["kind"] == "ring":
        problem = SpinProblem(domain=domain, material=material, magnetization=profile,
                              m_eq="magnetization", **kw)
    else:
        problem = slab_problem(domain, material, profile, **kw)
        bnd = case["boundary"]
        for end in ("left_end", "right_end"):
            if bnd[end] is not None:
                problem.dirichlet[end] = np.asarray(bnd[end], dtype=float)
    preset = case["solver"]["preset"]
    if preset == "auto":
        preset = auto_preset(problem.num_dofs, material, problem.degree)
    problem.solver = preset
    return problem


def auto_preset(dofs: int, material: Material, degree: int = 2) -> str:
    """LU while it is cheap; above, the p-multigrid ("iterative") for degree >= 2; with P1 the
    shifted Laplacian where it converges (a0 beta <= 100), else GMRES + BLR MUMPS ("blr")."""
    if degree >= 2:
        return "direct" if dofs <= AUTO_ITERATIVE_DOFS else "iterative"
    if dofs <= AUTO_P1_DOFS:
        return "direct"
    return "shifted" if material.a0 * material.beta <= SHIFTED_MAX_A0_BETA else "blr"


@dataclass
class RunResult:
    problem: SpinProblem
    folder: Path | None
    summary: dict[str, Any] = field(default_factory=dict)
    profile: np.ndarray | None = None


def profile_samples(case: dict, problem: SpinProblem) -> tuple[np.ndarray, np.ndarray, str]:
    """Points of the line profile and their abscissa (x for the slab, arc length for the ring)."""
    geo, n = case["geometry"], case["output"]["profile_points"]
    if geo["kind"] == "ring":
        from .ring import centreline

        s, pts = centreline(geo["length_nm"], n)
        return s, pts, "s_nm"
    L = geo["length_nm"]
    pts = axis_points(-L / 2, L / 2, n)
    return pts[:, 0], pts, "x_nm"


def run_case(case: dict, output: Path | None, overwrite: bool = False,
             comm: MPI.Comm = MPI.COMM_WORLD, petsc_options: dict | None = None) -> RunResult:
    """Mesh, solve and (if output is given) write a resolved case; returns the problem and summary."""
    timings: dict[str, float] = {}
    material = material_from(case)
    warning = check_resolution(case, material)
    if warning:
        logger.warning("warning: %s", warning)
    cells = check_size(case)
    if cells:
        logger.info("mesh: about %.2g cells expected", cells)
    with stage("mesh", comm, timings):
        domain = build_domain(case, comm)
    logger.info("mesh: %d cells, dim %d", domain.num_cells(), domain.mesh.topology.dim)
    problem = make_problem(case, domain, petsc_options)
    problem.timings = timings
    problem.solve()
    s, pts, abscissa = profile_samples(case, problem)
    values = sample(problem.m, pts)
    summary = {
        "dofs": problem.num_dofs, "cells": domain.num_cells(), "ranks": comm.size,
        "degree": problem.degree, "quadrature_degree": problem.form.quadrature_degree,
        "solver": problem.solver, "iterations": getattr(problem, "iterations", None),
        "l_sf_nm": material.l_sf_nm, "beta": material.beta,
        "transverse_decay_nm": 1.0 / abs(material.transverse_k),
    }
    if comm.rank == 0:
        summary["max_abs_m"] = {c: float(np.nanmax(np.abs(values[:, i]))) for i, c in enumerate("xyz")}
    summary = comm.bcast(summary, root=0)
    result = RunResult(problem, output, summary, values)
    if output is None:
        summary["timings_s"] = timings
        return result
    with stage("write", comm, timings):
        with atomic_dir(output, comm, overwrite) as tmp:
            write_results(case, problem, tmp, s, values, abscissa)
    summary["timings_s"] = timings
    if comm.rank == 0:  # written once, after the move, so it has the write stage's time too
        partial = output / ".summary.json.partial"
        partial.write_text(json.dumps({**summary, "versions": versions()}, indent=2) + "\n")
        partial.replace(output / "summary.json")
    logger.info("results in %s", output)
    return result


def write_results(case: dict, problem: SpinProblem, folder: Path, s: np.ndarray,
                  values: np.ndarray | None, abscissa: str) -> None:
    comm = problem.domain.comm
    out = case["output"]
    if out["paraview"]:
        write_paraview(folder, derived_fields(problem))
    if comm.rank == 0:
        write_profile_csv(folder / "profile.csv", s, values, abscissa=abscissa)
        v = versions()
        header = "resolved case written by fem-spin: run it again with `fem-spin run case.toml`\n" + \
            "\n".join(f"{k}: {val}" for k, val in v.items())
        (folder / "case.toml").write_text(dump_toml(case, header))
        if out["png"]:
            from .plotting import plot_profile, render_field

            kind = case["geometry"]["kind"]
            plot_profile(folder / "profile.csv", folder / "profile.png",
                         title=f"{kind}: m along the {'loop' if kind == 'ring' else 'axis'}")
            if out["paraview"] and case["geometry"]["dim"] > 1:
                try:
                    render_field(folder / "fields.pvd", folder / "m_x.png", "m", 0)
                except Exception as exc:  # noqa: BLE001 - a picture must not sink a good run
                    logging.getLogger("fem_spin").warning("warning: no 3D picture (%s)", exc)
    comm.Barrier()
