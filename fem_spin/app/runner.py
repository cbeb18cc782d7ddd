"""Run a resolved case: mesh, assemble, solve, write. Used by the CLI and the demos."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import platform
import resource
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fem_spin._backend import MPI, PETSc, dolfinx, ufl
from fem_spin.app import sizing
from fem_spin.physics import magnetization as magn
from fem_spin.io.case import CaseError, dump_toml
from fem_spin.physics.material import Material
from fem_spin.physics.coefficients import Region
from fem_spin.geometry.mesh import (XDMF_SUFFIX, Domain, SlabGeometry, build_from_file, build_slab,
                                    inspect_mesh_file, read_msh, read_xdmf)
from fem_spin.io.output import atomic_dir, axis_points, derived_fields, sample, write_paraview, write_profile_csv
from fem_spin.physics.problem import SpinProblem
from fem_spin.progress import logger, stage

# Above these DOF counts `solver.preset = "auto"` leaves MUMPS LU: with degree 2 for the
# p-multigrid ("iterative"), with P1 (no P1 coarse level) for "blr" or "shifted"; both
# faster and lighter than LU there on 1 and 2 ranks (docs/benchmark.md).
AUTO_ITERATIVE_DOFS = 50_000
AUTO_P1_DOFS = 150_000
# ... and with degree 2 on meshes coarser than 1/|k| (the p-multigrid's P1 level is poor there)
AUTO_COARSE_MESH_DOFS = 300_000
# The shifted-Laplacian preconditioner converges in ~70 mesh-independent iterations at
# a0 = beta = 10 and not at all at 100 (the transverse block becomes Helmholtz-like).
SHIFTED_MAX_A0_BETA = 100.0


def versions() -> dict[str, str]:
    """Versions of the stack, for `fem-spin info` and the saved case."""
    from fem_spin import __version__

    return {
        "fem_spin": __version__,
        "dolfinx": dolfinx.__version__,
        "petsc": ".".join(map(str, PETSc.Sys.getVersion())),
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
        "mpi4py": __import__("mpi4py").__version__,
        "python": platform.python_version(),
        "ranks": str(MPI.COMM_WORLD.size),
    }


def material_of(spec: dict) -> Material:
    """The Material of a [material] table or a resolved [regions.NAME] table."""
    omega0 = spec["omega0_per_s"] if spec["exchange_eV"] is None else \
        Material.omega_from_exchange(spec["exchange_eV"])
    return Material(D=spec["D_m2_per_s"], tau_sf=spec["tau_sf_s"], a0=spec["a0"], omega0=omega0)


def material_from(case: dict) -> Material:
    """The material of a slab/ring case, or of the first region of a device."""
    if case["geometry"]["kind"] == "gmsh" and case["regions"]:
        return material_of(next(iter(case["regions"].values())))
    return material_of(case["material"])


def source_of(p: dict, kind: str = "slab", side: float = 100.0):
    """The magnetization callable (x -> M/M0) of a [magnetization] or [regions.NAME] table."""
    if p["profile"] == "uniform":
        return magn.Uniform(tuple(p["direction"]))
    if p["profile"] == "wall":
        return magn.RotatingWall(theta=p["theta_deg"], width=p["width_nm"],
                                 u_left=tuple(p["u_left"]), dip=p["dip"])
    if p["profile"] == "ovf":
        from fem_spin.io.ovf import GridMagnetization, read_ovf

        return GridMagnetization(read_ovf(p["file"]), offset_nm=tuple(p["offset_nm"]),
                                 unit_nm=p["file_unit_nm"], outside=p["outside"], source=p["file"])
    if p["profile"] == "vtk":
        return magn.VTKMagnetization(p["file"], field=p["field"], offset_nm=tuple(p["offset_nm"]),
                                     unit_nm=p["file_unit_nm"] or 1.0, outside=p["outside"])
    if kind == "ring":
        from fem_spin.geometry.ring import RingMagnetization

        return RingMagnetization(side=side, width=p["width_nm"])
    return magn.Interface(theta=p["theta_deg"], width=p["width_nm"], u_left=tuple(p["u_left"]))


def profile_from(case: dict):
    return source_of(case["magnetization"], case["geometry"]["kind"], case["geometry"]["length_nm"])


def _vec(v) -> tuple[float, float, float] | None:
    return None if v is None else tuple(float(c) for c in v)


def region_of(spec: dict, source, m_eq: str = "zero", B=None) -> Region:
    """A Region from a [material]-like table (component-wise keys included) and a source."""
    return Region(material=material_of(spec), magnetization=source, B=_vec(B) or (0.0, 0.0, 0.0),
                  D_components=_vec(spec["D_components_m2_per_s"]),
                  tau_components=_vec(spec["tau_components_s"]), m_eq=m_eq,
                  polarization=spec["P"] or 0.0, sigma=spec["sigma_S_per_m"], Ms=spec["Ms_A_per_m"])


def charge_current(case: dict, domain: Domain, regions: dict[str, Region]):
    """j_e of a case's current drive: None (normalised mode), a uniform 3-vector, or the
    solved potential's (`fem_spin.physics.potential.PotentialResult`, with V and the contacts)."""
    cur = case["current"]
    if cur["drive"] == "none":
        return None, None
    if cur["drive"] == "uniform":
        return np.asarray(cur["j_A_per_m2"], float), None
    from fem_spin.physics.coefficients import cellwise_by_name
    from fem_spin.physics.potential import solve_potential

    bnd = case["boundaries"]
    sigma = cellwise_by_name(domain, {n: r.sigma for n, r in regions.items()})
    with stage("potential", domain.comm):
        result = solve_potential(domain, sigma,
                                 {n: b["potential_V"] for n, b in bnd.items() if b["potential_V"] is not None},
                                 {n: b["current_A"] for n, b in bnd.items() if b["current_A"] is not None})
    logger.info("contacts: %s", ", ".join(f"{n} {result.potentials[n]:.4g} V, {result.currents[n]:.4g} A"
                                          for n in result.currents))
    return result.j, result


def device_regions(case: dict) -> dict[str, Region]:
    """The Regions of a kind = "gmsh" case, by cell-group name."""
    def source(spec):
        if not spec["magnet"]:
            return None
        if spec["profile"] == "ring":
            return source_of({**spec, "profile": "interface"}, "ring", spec["ring_side_nm"])
        return source_of(spec)

    return {name: region_of(spec, source(spec), spec["m_eq"], spec["B_T"])
            for name, spec in case["regions"].items()}


def check_resolution(case: dict, material: Material) -> str | None:
    """Refuse (or, with allow_coarse, warn about) an interface mesh too coarse for the physics;
    warn about a far mesh coarser than the transverse length. Returns the warnings or None."""
    geo = case["geometry"]
    if geo["kind"] == "gmsh":  # sizes come from the file
        return None
    wave = 1.0 / abs(material.transverse_k)
    lengths = {"1/|k| (transverse decay)": wave, "l_sf": material.l_sf_nm}
    if case["magnetization"]["profile"] != "uniform":
        lengths["magnetization width w"] = case["magnetization"]["width_nm"]
    name, shortest = min(lengths.items(), key=lambda kv: kv[1])
    h = geo["h_interface_nm"]
    warnings = []
    if h > shortest:
        msg = (f"[geometry] h_interface_nm = {h!r}: too coarse to resolve the shortest length, "
               f"{name} = {shortest:.5g} nm; use h_interface_nm <= {floor_sig(shortest)}")
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


def floor_sig(x: float, digits: int = 3) -> str:
    """x rounded down to `digits` significant digits, as text: a limit printed for the user
    to copy must pass the check it came from (0.99995 -> '0.999', not '1')."""
    step = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    n = math.floor(x / step)
    while float(f"{n * step:.{digits}g}") > x:
        n -= 1
    return f"{n * step:.{digits}g}"


def geometry_from(case: dict):
    """The SlabGeometry or RingGeometry of a case (its checks raise CaseError)."""
    geo = case["geometry"]
    try:
        if geo["kind"] == "ring":
            from fem_spin.geometry.ring import RingGeometry

            return RingGeometry(dim=geo["dim"], side=geo["length_nm"], width=geo["width_nm"],
                                h_corner=geo["h_interface_nm"], h_far=geo["h_far_nm"],
                                refine_distance=geo["refine_distance_nm"])
        return SlabGeometry(dim=geo["dim"], length=geo["length_nm"], width=geo["width_nm"],
                            h_interface=geo["h_interface_nm"], h_far=geo["h_far_nm"],
                            refine_distance=geo["refine_distance_nm"])
    except ValueError as exc:
        raise CaseError(str(exc)) from None


def check_size(case: dict, meshes: bool | None = None, ranks: int = 1,
               ranks_on_node: int | None = None) -> float | None:
    """Estimated cell count of the mesh to build; before Gmsh starts, refuse a case whose
    estimated peak memory (fem_spin.app.sizing, measured per DOF and preset) exceeds this
    node's memory, unless geometry.allow_large. `meshes`: whether a mesh is built (default:
    unless the case reads a mesh file); None is returned when not. `ranks` (and how many of
    them share this node) scale the estimate."""
    geo = case["geometry"]
    if geo["kind"] == "gmsh" or not (geo["mesh_file"] is None if meshes is None else meshes):
        return None
    cells = geometry_from(case).estimated_cells()
    degree = case["discretization"]["degree"]
    dofs = sizing.estimated_dofs(geo["dim"], degree, cells)
    preset = case["solver"]["preset"]
    if preset == "auto":
        m = material_from(case)
        preset = auto_preset(int(dofs), m.a0 * m.beta, degree, coarsest_kh(case))
    need = sizing.estimated_memory(dofs, geo["dim"], preset, ranks)
    here = need * (ranks_on_node or ranks) / ranks
    have = sizing.machine_memory()
    if here > have and not geo["allow_large"]:
        sizes = ", ".join(f"{k} = {geo[k]!r}" for k in ("dim", "length_nm", "width_nm",
                                                       "h_interface_nm", "h_far_nm"))
        raise CaseError(f"[geometry] {sizes}: about {cells:.2g} cells (estimate), {dofs:.2g} DOFs "
                        f"(P{degree}), which need about {need / 1e9:.3g} GB with solver '{preset}' "
                        f"on {ranks} rank(s), {here / 1e9:.3g} GB of them on this node; it has "
                        f"{have / 1e9:.3g} GB. Coarsen the mesh, shrink the geometry or use more "
                        "nodes, or set geometry.allow_large = true")
    return cells


def expected_mesh(case: dict) -> tuple[dict[str, list[str]], list[tuple[float, float]]]:
    """Physical groups (cells, facets) and extents per axis that a mesh of this case must have."""
    geo = case["geometry"]
    L, W, dim = geo["length_nm"], geo["width_nm"], geo["dim"]
    if geo["kind"] == "ring":
        from fem_spin.geometry.ring import RING_CELLS, RING_FACETS

        groups = {"cells": list(RING_CELLS), "facets": list(RING_FACETS)}
        extent = [(-W / 2, L + W / 2)] * 2 + [(-W / 2, W / 2)] * (dim - 2)
    else:
        from fem_spin.geometry.mesh import SLAB_CELLS

        groups = {"cells": list(SLAB_CELLS), "facets": ["left_end", "right_end"]}
        extent = [(-L / 2, L / 2)] + [(-W / 2, W / 2)] * (dim - 1)
    return groups, extent


def check_mesh_file(case: dict) -> None:
    """A `geometry.mesh_file` must be the mesh this case describes: its dimension, physical
    groups and extent, so that a mesh of another case cannot give a silently wrong answer.
    Runs Gmsh on the calling rank (rank 0)."""
    geo = case["geometry"]
    path = geo["mesh_file"]
    info = inspect_mesh_file(path)
    where = f"[geometry] mesh_file = {path!r}"
    if info.dim != geo["dim"]:
        raise CaseError(f"{where}: the mesh is {info.dim}D but geometry.dim = {geo['dim']}")
    groups, extent = expected_mesh(case)
    for kind, have in (("cells", info.cells), ("facets", info.facets)):
        missing = [n for n in groups[kind] if n not in have]
        if missing:
            raise CaseError(f"{where}: missing physical group(s) {', '.join(missing)} for a "
                            f"{geo['kind']} (it has {', '.join(sorted(have)) or 'none'})")
    tol = 1e-6 * max(abs(v) for pair in extent for v in pair) + 1e-9
    for axis, (lo, hi) in enumerate(extent):
        got = (info.bbox[axis], info.bbox[axis + 3])
        if abs(got[0] - lo) > tol or abs(got[1] - hi) > tol:
            raise CaseError(f"{where}: the mesh spans {'xyz'[axis]} in [{got[0]:.6g}, {got[1]:.6g}] nm, "
                            f"the case's {geo['kind']} (length_nm = {geo['length_nm']!r}, width_nm = "
                            f"{geo['width_nm']!r}) spans [{lo:.6g}, {hi:.6g}] nm")


def check_device_file(case: dict) -> None:
    """kind = "gmsh": the file's regions and boundaries are the case's, and one dimension.
    Sets geometry.dim from the file. Runs Gmsh on the calling rank (rank 0)."""
    geo = case["geometry"]
    info = inspect_mesh_file(geo["file"], parameters=geo["parameters"])
    where = f"[geometry] file = {geo['file']!r}"
    if geo["dim"] is not None and geo["dim"] != info.dim:
        raise CaseError(f"{where}: the file is {info.dim}D but geometry.dim = {geo['dim']}")
    geo["dim"] = info.dim
    have_r, have_b = sorted(info.cells), sorted(info.facets)
    if not case["regions"]:
        raise CaseError(f"{where}: describe its regions with [regions.NAME] tables "
                        f"(regions in the file: {', '.join(have_r)})")
    for kind, given, have in (("regions", case["regions"], have_r), ("boundaries", case["boundaries"], have_b)):
        missing = [n for n in given if n not in have]
        want = info.dim if kind == "regions" else info.dim - 1
        if missing and missing[0] in info.groups:
            raise CaseError(f"[{kind}.{missing[0]}] is a dimension-{info.groups[missing[0]]} group of "
                            f"{geo['file']!r}; its {kind} are its dimension-{want} groups: "
                            f"{', '.join(have) or 'none'}")
        if missing:
            raise CaseError(f"[{kind}.{missing[0]}] is not a {'region (cell group)' if kind == 'regions' else 'boundary (facet group)'} "
                            f"of {geo['file']!r}; it has: {', '.join(have) or 'none'}")
    undescribed = [n for n in have_r if n not in case["regions"]]
    if undescribed:
        raise CaseError(f"{where}: region(s) {', '.join(undescribed)} of the mesh are not described; "
                        f"add [regions.{undescribed[0]}] (magnet = false for a normal metal)")
    for name, spec in case["regions"].items():  # read every magnetization file now, not mid-run
        if spec["magnet"] and spec["profile"] in ("ovf", "vtk"):
            source_of(spec)


def preflight(case: dict, ranks: int = 1, ranks_on_node: int | None = None) -> str | None:
    """Every check of a resolved case that needs no mesh (run it on rank 0): resolution, the
    mesh-size estimate, a given mesh file or a device's file (which sets geometry.dim).
    Raises CaseError (or another InputError); returns warnings or None."""
    if case["geometry"]["kind"] == "gmsh":
        check_device_file(case)
        return None
    warning = check_resolution(case, material_from(case))
    check_size(case, ranks=ranks, ranks_on_node=ranks_on_node)
    if case["geometry"]["mesh_file"] is not None:
        check_mesh_file(case)
    return warning


def build_domain(case: dict, comm: MPI.Comm, msh_file: Path | None = None) -> Domain | None:
    geo = case["geometry"]
    if geo["kind"] == "gmsh":
        return build_from_file(geo["file"], geo["dim"], comm, geo["parameters"], geo["unit_nm"], msh_file)
    if geo["mesh_file"] is not None and msh_file is None:
        if Path(geo["mesh_file"]).suffix.lower() == XDMF_SUFFIX:
            return read_xdmf(geo["mesh_file"], comm)
        return read_msh(geo["mesh_file"], comm, gdim=geo["dim"])
    if geo["kind"] == "ring":
        from fem_spin.geometry.ring import build_ring

        return build_ring(geometry_from(case), comm, msh_file)
    return build_slab(geometry_from(case), comm, msh_file)


def make_problem(case: dict, domain: Domain, petsc_options: dict | None = None) -> SpinProblem:
    opts = dict(case["solver"]["petsc_options"])
    opts.update(petsc_options or {})
    kw: dict[str, Any] = dict(degree=case["discretization"]["degree"],
                              quadrature_degree=case["discretization"]["quadrature_degree"],
                              initial_guess=case["solver"]["initial_guess"], petsc_options=opts)
    kind = case["geometry"]["kind"]
    if kind == "gmsh":
        bnd = case["boundaries"]
        regions = device_regions(case)
        current, potential = charge_current(case, domain, regions)
        problem = SpinProblem(
            domain=domain, regions=regions, current=current,
            dirichlet={n: np.asarray(b["m"], float) for n, b in bnd.items() if b["type"] == "fixed"},
            neumann={n: np.asarray(b["J_m_per_s"], float) for n, b in bnd.items() if b["type"] == "current"},
            **kw)
        a0_beta = max(r.material.a0 * r.material.beta for _, r in problem.coef.regions)
        problem.potential = potential
    else:
        profile = profile_from(case)
        region = region_of(case["material"], profile, "magnetization" if kind == "ring" else "zero",
                           case["field"]["B_T"])
        dirichlet = {}
        if kind == "slab":
            u_l, u_r = profile.end_directions()
            bnd = case["boundary"]
            dirichlet = {"left_end": np.asarray(bnd["left_end"] if bnd["left_end"] is not None else -u_l, float),
                         "right_end": np.asarray(bnd["right_end"] if bnd["right_end"] is not None else u_r, float)}
        problem = SpinProblem(domain=domain, regions=[(None, region)], dirichlet=dirichlet, **kw)
        a0_beta = region.material.a0 * region.material.beta
        problem.potential = None
    preset = case["solver"]["preset"]
    if preset == "auto":
        preset = auto_preset(problem.num_dofs, a0_beta, problem.degree, coarsest_kh(case))
    problem.solver = preset
    return problem


def coarsest_kh(case: dict) -> float | None:
    """h_far |k| of a built-in geometry (None for a mesh file's device: no h is known)."""
    if case["geometry"]["kind"] == "gmsh":
        return None
    return case["geometry"]["h_far_nm"] * abs(material_from(case).transverse_k)


def auto_preset(dofs: int, a0_beta: float, degree: int = 2, kh: float | None = None) -> str:
    """LU while it is cheap; above, the p-multigrid ("iterative") for degree >= 2; with P1 the
    shifted Laplacian where it converges (a0 beta <= 100), else GMRES + BLR MUMPS ("blr").
    kh: the coarsest element size times |k| (the transverse wave number); above 1 the
    p-multigrid's P1 level represents the waves poorly (239 iterations at h = 1.2 nm for the
    paper's slab, 14.8 s against 5.4 s for LU on 2 ranks), so LU is kept up to 3e5 DOFs."""
    if degree >= 2:
        if dofs <= AUTO_ITERATIVE_DOFS or (kh is not None and kh > 1.0 and dofs <= AUTO_COARSE_MESH_DOFS):
            return "direct"
        return "iterative"
    if dofs <= AUTO_P1_DOFS:
        return "direct"
    return "shifted" if a0_beta <= SHIFTED_MAX_A0_BETA else "blr"


@dataclass
class RunResult:
    problem: SpinProblem
    folder: Path | None
    summary: dict[str, Any] = field(default_factory=dict)
    profile: np.ndarray | None = None


def profile_samples(case: dict, problem: SpinProblem) -> tuple[np.ndarray, np.ndarray, str]:
    """Points of the line profile and their abscissa (x for the slab, arc length for the ring)."""
    geo, n = case["geometry"], case["output"]["profile_points"]
    if geo["kind"] == "gmsh":
        start, end = profile_line(case, problem.domain)
        t = np.linspace(0.0, 1.0, n)
        pts = start[None, :] + t[:, None] * (end - start)[None, :]
        return t * np.linalg.norm(end - start), pts, "s_nm"
    if geo["kind"] == "ring":
        from fem_spin.geometry.ring import centreline

        s, pts = centreline(geo["length_nm"], n)
        return s, pts, "s_nm"
    L = geo["length_nm"]
    pts = axis_points(-L / 2, L / 2, n)
    return pts[:, 0], pts, "x_nm"


class ResultError(RuntimeError):
    """A solution that must not be written (NaN, profile off the mesh): exit code 1."""


def profile_line(case: dict, domain: Domain) -> tuple[np.ndarray, np.ndarray]:
    """The CSV line of a device: output.line_from_nm -> line_to_nm, or by default the mesh's
    longest bounding-box axis through its centre."""
    out = case["output"]
    if out["line_from_nm"] is not None:
        return np.asarray(out["line_from_nm"], float), np.asarray(out["line_to_nm"], float)
    comm = domain.comm
    x = domain.mesh.geometry.x
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    comm.Allreduce(x.min(axis=0) if len(x) else lo.copy(), lo, op=MPI.MIN)
    comm.Allreduce(x.max(axis=0) if len(x) else hi.copy(), hi, op=MPI.MAX)
    axis = int(np.argmax(hi - lo))
    centre = (lo + hi) / 2
    start, end = centre.copy(), centre.copy()
    start[axis], end[axis] = lo[axis], hi[axis]
    return start, end


def region_summaries(problem: SpinProblem) -> dict[str, dict[str, Any]]:
    """Per region (cell group): volume [nm^dim], mean m, mean |m| and the total torque
    integral of T = omega0 M/M0 x m [1/s * nm^dim]."""
    dom = problem.domain
    if dom.cell_tags is None or not dom.cells:
        return {}
    dx = ufl.Measure("dx", domain=dom.mesh, subdomain_data=dom.cell_tags,
                     metadata={"quadrature_degree": problem.form.quadrature_degree})
    comm, m, T = dom.comm, problem.m, problem.torque()

    def integral(expr, tag) -> float:
        return comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(expr * dx(tag))), op=MPI.SUM)

    out: dict[str, Any] = {}
    for name, tag in sorted(dom.cells.items(), key=lambda kv: kv[1]):
        vol = integral(dolfinx.fem.Constant(dom.mesh, dolfinx.default_scalar_type(1.0)), tag)
        if vol <= 0:
            continue
        out[name] = {"volume_nm": vol,
                     "mean_m": [integral(m[i], tag) / vol for i in range(3)],
                     "mean_abs_m": integral(ufl.sqrt(ufl.dot(m, m)), tag) / vol,
                     "torque_integral": [integral(T[i], tag) for i in range(3)]}
    return out


def boundary_currents(problem: SpinProblem) -> dict[str, list[float]]:
    """Per facet group on the boundary: the outward spin current through it, int J.n dA
    [J's unit times nm^(dim-1)]; interior groups (interfaces) are left out."""
    dom = problem.domain
    if dom.facet_tags is None or not dom.facets:
        return {}
    ds = ufl.Measure("ds", domain=dom.mesh, subdomain_data=dom.facet_tags,
                     metadata={"quadrature_degree": problem.form.quadrature_degree})
    Jn = ufl.dot(problem.spin_current(), ufl.FacetNormal(dom.mesh))
    out = {}
    for name, tag in sorted(dom.facets.items(), key=lambda kv: kv[1]):
        vals = [dom.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(Jn[k] * ds(tag))),
                                   op=MPI.SUM) for k in range(3)]
        area = dom.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(
            dolfinx.fem.Constant(dom.mesh, dolfinx.default_scalar_type(1.0)) * ds(tag))), op=MPI.SUM)
        if area > 0:
            out[name] = vals
    return out


def run_case(case: dict, output: Path | None, overwrite: bool = False,
             comm: MPI.Comm = MPI.COMM_WORLD, petsc_options: dict | None = None,
             shown_as: Path | None = None) -> RunResult:
    """Mesh, solve and (if output is given) write a resolved case; returns the problem and summary.

    `shown_as`: the folder named in messages and records when `output` is a temporary one
    (a sweep writes into its own temporary folder and moves it into place at the end).
    """
    from fem_spin.parallel import on_root

    timings: dict[str, float] = {}
    material = material_from(case)
    on_node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    ranks_on_node = on_node.size
    on_node.Free()
    warning, case["geometry"]["dim"] = on_root(comm, lambda: (preflight(case, comm.size, ranks_on_node),
                                                              case["geometry"]["dim"]))
    if warning:
        logger.warning("warning: %s", warning)
    if output is not None and comm.rank == 0:
        report_stale_partials(Path(shown_as or output))
    cells = check_size(case, ranks=comm.size, ranks_on_node=ranks_on_node)
    if cells:
        logger.info("mesh: about %.2g cells expected", cells)
    with stage("mesh", comm, timings):
        domain = build_domain(case, comm)
    logger.info("mesh: %d cells, dim %d", domain.num_cells(), domain.mesh.topology.dim)
    problem = make_problem(case, domain, petsc_options)
    problem.timings = timings
    # A dynamic run writes its time series as it goes: the result folder opens first (still a
    # hidden temporary one, moved into place only when everything is written).
    dynamic = bool(case["dynamics"]["t_end_s"])
    if output is None:
        folder = contextlib.nullcontext()
    else:  # a dynamic run's folder outlives SIGTERM with its checkpoint, to go on from
        from fem_spin.parallel import Terminated

        folder = atomic_dir(output, comm, overwrite, resumable=dynamic, keep_on=(Terminated,) if dynamic else ())
    with folder as tmp:
        if dynamic and tmp is not None:
            check_resumable(case, tmp, comm)
        rows = run_coupled(case, problem, tmp) if dynamic else None
        if dynamic and tmp is not None and comm.rank == 0:
            (tmp / "case.resume.json").unlink(missing_ok=True)
        if rows is None:
            problem.solve()
        s, pts, abscissa = profile_samples(case, problem)
        values = sample(problem.m, pts)
        if case["geometry"]["kind"] == "gmsh" and comm.rank == 0:  # a line may leave a device
            keep = ~np.isnan(values).any(axis=1)
            if not keep.all():
                logger.warning("warning: %d of %d points of the profile line lie outside the mesh "
                               "and are left out of profile.csv", np.count_nonzero(~keep), len(keep))
            s, values = s[keep], values[keep]
        check_finite(problem, values, abscissa)
        summary = run_summary(case, problem, values, material)
        if rows is not None:
            summary["dynamics"] = {"steps": len(rows) - 1, "final": rows[-1],
                                   "rejected_steps": rows[-1]["rejected_steps"],
                                   "max_norm_error": max(r["max_norm_error"] for r in rows)}
        result = RunResult(problem, output, summary, values)
        if output is not None:
            with stage("write", comm, timings):
                write_results(case, problem, tmp, s, values, abscissa)
                if rows is not None and comm.rank == 0 and case["output"]["png"]:
                    from fem_spin.physics.dynamics import plot_dynamics

                    plot_dynamics(rows, magnet_names(case), tmp / "dynamics.png",
                                  "magnetization dynamics (Eq. 79)")
    summary["timings_s"] = timings
    summary["peak_memory_mb"] = peak_memory_mb(comm)
    logger.info("peak memory %.0f MB (all %d ranks; largest rank %.0f MB)",
                summary["peak_memory_mb"]["all_ranks"], comm.size, summary["peak_memory_mb"]["largest_rank"])
    if output is None:
        return result
    if comm.rank == 0:  # written once, after the move, so it has the write stage's time too
        summary["bytes_written"] = sum(f.stat().st_size for f in Path(output).rglob("*") if f.is_file())
        logger.info("wrote %.1f MB", summary["bytes_written"] / 1e6)
        partial = output / ".summary.json.partial"
        partial.write_text(json.dumps({**summary, "versions": versions()}, indent=2) + "\n")
        partial.replace(output / "summary.json")
    logger.info("results in %s", shown_as or output)
    return result


def peak_memory_mb(comm: MPI.Comm) -> dict[str, float]:
    """Peak resident memory of this process (Linux reports KiB), summed and largest over ranks."""
    mine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"all_ranks": comm.allreduce(mine, op=MPI.SUM), "largest_rank": comm.allreduce(mine, op=MPI.MAX)}


def run_summary(case: dict, problem: SpinProblem, values: np.ndarray | None, material: Material) -> dict:
    """summary.json's numbers (collective: every rank calls it; the peaks come from rank 0)."""
    comm, k = problem.domain.comm, material.transverse_k
    summary = {
        "dofs": problem.num_dofs, "cells": problem.domain.num_cells(), "ranks": comm.size,
        "degree": problem.degree, "quadrature_degree": problem.form.quadrature_degree,
        "diffusion_quadrature_degree": problem.form.diffusion_quadrature_degree,
        "solver": problem.solver, "iterations": getattr(problem, "iterations", None),
        "l_sf_nm": material.l_sf_nm, "beta": material.beta,
        # Transverse accumulation ~ exp(-k x): it decays over 1/Re k and oscillates with
        # wavelength 2 pi/Im k; 1/|k| is the length the mesh must resolve.
        "transverse_decay_length_nm": 1.0 / k.real,
        "transverse_wavelength_nm": 2 * np.pi / abs(k.imag) if k.imag else None,
        "transverse_resolution_length_nm": 1.0 / abs(k),
        "regions": region_summaries(problem),
        "boundary_spin_currents": boundary_currents(problem),
    }
    if getattr(problem, "potential", None) is not None:
        summary["contacts"] = {n: {"potential_V": problem.potential.potentials[n], "current_A":
                                   problem.potential.currents[n]} for n in problem.potential.currents}
    if comm.rank == 0:
        summary["max_abs_m"] = {c: float(np.max(np.abs(values[:, i]))) for i, c in enumerate("xyz")}
    summary = comm.bcast(summary, root=0)
    summary["units"] = units_of(case)
    return summary


def magnet_names(case: dict) -> list[str]:
    """The cell groups whose averages the dynamics records (the device's magnets)."""
    return [n for n, r in case["regions"].items() if r["magnet"]]


def llg_of(case: dict, problem: SpinProblem):
    """The LLG integrator of a case with [dynamics]: its magnets, constants and initial u."""
    from fem_spin.physics.llg import LLG, MagnetParams

    def params(spec: dict, dynamic: bool = True) -> MagnetParams:
        return MagnetParams(Ms=spec["Ms_A_per_m"], A_ex=spec["A_ex_J_per_m"] or 0.0,
                            K_u=spec["K_u_J_per_m3"] or 0.0, K_axis=tuple(spec["K_axis"]),
                            alpha_G=spec["alpha_G"], dynamic=dynamic)

    def direction(source):
        def u0(x):
            v = source(x)
            n = np.linalg.norm(v, axis=0)
            return np.where(n > 0, v / np.where(n > 0, n, 1.0), 0.0)
        return u0

    dom = problem.domain
    if case["geometry"]["kind"] == "gmsh":
        magnets = [(dom.cell_tags.find(dom.cells[n]).astype(np.int32), params(r, r["dynamic"]),
                    direction(problem.regions[n].magnetization))
                   for n, r in case["regions"].items() if r["magnet"]]
    else:
        magnets = [(None, params(case["material"]), direction(profile_from(case)))]
    dyn = case["dynamics"]
    return LLG(dom.mesh, magnets, B=tuple(case["field"]["B_T"]), theta=dyn["theta"])


def check_resumable(case: dict, folder: Path, comm: MPI.Comm) -> None:
    """A dynamic run's folder left by a stopped run: keep it (its checkpoint goes on) if it was
    made by the same case (the [output] section aside), else empty it; record this case."""
    if comm.rank == 0:
        mine = json.dumps({k: v for k, v in case.items() if k != "output"}, sort_keys=True, default=str)
        stamp = folder / "case.resume.json"
        if stamp.is_file() and stamp.read_text() != mine:
            logger.warning("warning: %s holds a stopped run of another case: starting afresh", folder)
            for p in folder.iterdir():
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        stamp.write_text(mine)
    comm.Barrier()


def run_coupled(case: dict, problem: SpinProblem, folder: Path | None) -> list[dict]:
    """[dynamics]: the LLG of the magnets coupled to the quasi-static accumulation."""
    from fem_spin.physics.dynamics import Coupling, run_dynamics

    llg = llg_of(case, problem)
    coef, dyn = problem.coef, case["dynamics"]
    if case["current"]["drive"] != "none":  # m in A/m: B_sd = -omega0 m/(gamma Ms)
        scale = coef.cellwise({id(r): (1.0 / r.Ms if r.magnetization is not None else 0.0)
                               for _, r in coef.regions})
    else:
        scale = dyn["rho"]
    coupling = Coupling(problem, llg, scale,
                        electron_dt=dyn["dt_s"] if dyn["electrons"] == "transient" else None)
    try:
        return run_dynamics(coupling, dyn["t_end_s"], dyn["dt_s"], folder, dyn["output_every"],
                            magnet_names(case), vtx=case["output"]["vtx"], tolerance=dyn["tolerance"],
                            checkpoint_every=dyn["checkpoint_every"])
    finally:
        coupling.destroy()
        llg.destroy()


# What the numbers in every output mean (summary.json "units", README.txt in each result).
UNITS = {
    "length": "nm (x_nm, s_nm, every *_nm key)",
    "m": "spin accumulation normalised to the equilibrium accumulation of the ferromagnet "
         "(dimensionless; the slab's ends hold m = -u_L and +u_R)",
    "M": "magnetization M/M0 = mu u (dimensionless)",
    "abs_m": "|m| (dimensionless)",
    "T": "torque density omega x m in 1/s (omega0 M/M0 x m): the sd torque on M per unit m",
    "J": "spin current J[k, j] = -Dt^{kp} d_j m^p in m/s (per unit m): k the spin component, "
         "j the spatial direction; ParaView's components 0..8 are k*3 + j (xx, xy, xz, yx, ...)",
    "profile.csv": "m along the slab's axis (x_nm, y = z = 0) or the ring's centreline "
                   "(s_nm, arc length from corner 0 at (0, 0) counter-clockwise)",
    "frame": "global (lab) x, y, z components everywhere",
    "regions": "volume_nm in nm^dim; mean_m normalised; torque_integral in 1/s nm^dim",
    "boundary_spin_currents": "outward int J.n dA in m/s nm^(dim-1)",
}
UNITS_SI = {  # with a charge-current drive (MODEL.md, "Charge-current drive")
    **UNITS,
    "m": "spin accumulation in A/m (magnetization of the conduction electrons)",
    "abs_m": "|m| in A/m",
    "T": "torque density omega0 M/M0 x m in A/(m s): the sd torque on M (dM/dt)",
    "J": "spin current J[k, j] = -Dt^{kp} d_j m^p - P (muB/e) mu u^k j_e^j in A/s (magnetization "
         "flux): k the spin component, j the spatial direction; ParaView's components 0..8 are "
         "k*3 + j",
    "B_sd": "equivalent field of the accumulation on M, -omega0 m/(gamma Ms), in T",
    "V": "electric potential in V",
    "j_e": "charge (conventional) current density in A/m^2; electrons flow the other way",
    "profile.csv": "m in A/m along the line (s_nm from its start)",
    "regions": "volume_nm in nm^dim; mean_m in A/m; torque_integral in A/(m s) nm^dim",
    "boundary_spin_currents": "outward int J.n dA in A/s nm^(dim-1)",
}


def units_of(case: dict) -> dict[str, str]:
    """The units block of summary.json and README.txt for this case."""
    base = UNITS_SI if case["current"]["drive"] != "none" else UNITS
    return base | ({"components": RING_FRAME} if case["geometry"]["kind"] == "ring" else {})


RING_FRAME = ("ring: files hold global x, y, z components; fem_spin.geometry.ring.ring_components turns "
              "them into (tangent, outward normal, z) along the loop")


def check_finite(problem: SpinProblem, values: np.ndarray | None, abscissa: str) -> None:
    """Refuse to write a solution with NaN/inf, or a profile that leaves the mesh (collective)."""
    comm = problem.domain.comm
    if comm.bcast(values is not None and len(values) == 0, root=0):
        raise ResultError(f"the profile line ({abscissa}) misses the mesh: set output.line_from_nm "
                          "and line_to_nm; nothing written")
    bad_m = comm.allreduce(int(np.count_nonzero(~np.isfinite(problem.m.x.array))), op=MPI.SUM)
    off = int(np.count_nonzero(np.isnan(values).any(axis=1))) if comm.rank == 0 else 0
    off = comm.bcast(off, root=0)
    if bad_m:
        raise ResultError(f"the solution has {bad_m} non-finite values (NaN/inf); nothing written")
    if off:
        raise ResultError(f"{off} of {len(values) if values is not None else '?'} points of the "
                          f"profile ({abscissa}) are outside the mesh: the mesh does not span the "
                          "case's geometry; nothing written")


def report_stale_partials(output: Path) -> list[Path]:
    """Warn about unfinished result folders of earlier runs (`.NAME.partial-*`, e.g. after a
    SIGKILL or a node failure) beside `output`; they are not removed: one may be a run still
    going on."""
    parent = output.resolve().parent
    if not parent.is_dir():
        return []
    stale = sorted(p for p in parent.glob(f".{output.name}.partial-*")
                   if p.is_dir() and not p.name.endswith("partial-resumable"))  # goes on instead
    if stale:
        size = sum(f.stat().st_size for p in stale for f in p.rglob("*") if f.is_file())
        logger.warning("warning: %d unfinished result folder(s) of earlier runs next to %s "
                       "(%.1f MB): %s; delete them unless a run is still writing there",
                       len(stale), output, size / 1e6, ", ".join(p.name for p in stale))
    return stale


def write_results(case: dict, problem: SpinProblem, folder: Path, s: np.ndarray,
                  values: np.ndarray | None, abscissa: str) -> None:
    comm = problem.domain.comm
    out = case["output"]
    si = case["current"]["drive"] != "none"
    if out["paraview"]:
        write_paraview(folder, derived_fields(problem, si, out["fields"]), vtx=out["vtx"],
                       precision=out["precision"])
    if out["checkpoint"]:
        from fem_spin.io.checkpoint import write_checkpoint

        write_checkpoint(folder / "checkpoint", {"m": problem.m}, {"units": units_of(case)["m"]})
    if comm.rank == 0:
        write_profile_csv(folder / "profile.csv", s, values, abscissa=abscissa,
                          unit="A_per_m" if si else "")
        v = versions()
        header = "resolved case written by fem-spin: run it again with `fem-spin run case.toml`\n" + \
            "\n".join(f"{k}: {val}" for k, val in v.items())
        (folder / "case.toml").write_text(dump_toml(case, header))
        (folder / "README.txt").write_text(results_readme(case))
        if out["png"]:
            write_pictures(case, folder)
    comm.Barrier()


def write_pictures(case: dict, folder: Path) -> list[Path]:
    """profile.png, m_x.png for 2D/3D meshes and cut.png (m on a plane through the centre) for
    3D devices: the same for `run` and `fem-spin plot`."""
    from fem_spin.io.output import field_name
    from fem_spin.io.plotting import plot_profile, render_field, render_slice

    kind = case["geometry"]["kind"]
    made = [plot_profile(folder / "profile.csv", folder / "profile.png",
                         title=f"{kind}: m along the {'loop' if kind == 'ring' else 'axis'}")]
    if case["geometry"]["dim"] > 1 and (folder / "fields.pvd").is_file():
        try:
            m_name = field_name("m", case["current"]["drive"] != "none")
            pic = render_field(folder / "fields.pvd", folder / "m_x.png", m_name, 0)
            made += [pic] if pic else []
            if kind == "gmsh" and case["geometry"]["dim"] == 3:
                pic = render_slice(folder / "fields.pvd", folder / "cut.png", m_name, "y")
                made += [pic] if pic else []
                if (folder / "potential.pvd").is_file():
                    pic = render_slice(folder / "potential.pvd", folder / "j_e.png",
                                       field_name("j_e", True), "y")
                    made += [pic] if pic else []
        except Exception as exc:  # noqa: BLE001 - a picture must not sink a good run
            logging.getLogger("fem_spin").warning("warning: no 3D picture (%s)", exc)
    return made


def results_readme(case: dict) -> str:
    """README.txt of a result folder: what each file holds, units, index order, frames."""
    files = {
        "fields.pvd (+ fields/)": "open this in ParaView: m and output.fields (M, T, abs_m = |m|, J, "
                                  "B_sd) on the nodes, J averaged over the cells at each node, "
                                  "components Jxx, Jxy, ... = J[spin, space]; cell data 'region' "
                                  "(the mesh's physical group numbers) for a mesh file; binary "
                                  "compressed VTK XML, one .vtu per rank; with a current drive the "
                                  "names carry the SI unit",
        "potential.pvd": "V and j_e (averaged to the nodes) of a solved charge current",
        "*.bp": "with output.vtx = true: the same fields as ADIOS2 VTX files",
        "checkpoint/": "with output.checkpoint: m for solver.initial_guess (any number of ranks)",
        "profile.csv": "m_x, m_y, m_z along a line",
        "profile.png, m_x.png": "pictures of the profile and (2D/3D) of m_x",
        "case.toml": "the resolved case: `fem-spin run case.toml -o NEW` repeats the run",
        "summary.json": "DOFs, timings, solver, peaks, lengths, units, versions",
    }
    units = units_of(case)
    return ("fem-spin result folder\n\nFiles:\n" + "".join(f"  {k}: {v}\n" for k, v in files.items())
            + "\nUnits and meaning:\n" + "".join(f"  {k}: {v}\n" for k, v in units.items()))
