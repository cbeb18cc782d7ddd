"""Every check of a case that runs before any mesh is built or anything is written: each
raises the same one-line input error (CaseError, exit code 2) naming the key and the value.
Run on rank 0 (`fem_spin.parallel.on_root` re-raises on every rank)."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

from fem_spin._backend import MPI
from fem_spin.app import sizing
from fem_spin.app.build import auto_preset, coarsest_kh, demag_on, embeddable, material_from, mesh_geometry, source_of
from fem_spin.geometry.mesh import inspect_mesh_file
from fem_spin.io.case import CaseError
from fem_spin.io.output import LOCK
from fem_spin.io.model import Case, takes_case
from fem_spin.io.schema import CURRENT_KEYS, DeviceSection, DynamicsSection, RingSection, contact_current
from fem_spin.physics.material import Material
from fem_spin.progress import logger


@takes_case
def preflight(case: Case, ranks: int = 1, ranks_on_node: int | None = None,
              report: bool = True) -> tuple[str | None, Case]:
    """Every check that needs no mesh: resolution, the mesh-size estimate, a given mesh file or
    a device's file. Returns (warnings or None, the case with geometry.dim from a device's file).
    Raises CaseError (or another InputError). `report`: log the device's mesh size (the CLI's
    early pass does not: run_case's says it once)."""
    check_spin_hall(case)
    if isinstance(case.geometry, DeviceSection):
        case = case.replace("geometry", dim=check_device_file(case, report=report))
        check_spin_hall(case)
        check_demag(case)
        return None, case
    check_demag(case)
    warning = check_resolution(case, material_from(case))
    check_size(case, ranks=ranks, ranks_on_node=ranks_on_node)
    if case.geometry.mesh_file is not None:
        check_mesh_file(case)
    return warning, case


@takes_case
def check_demag(case: Case) -> None:
    """[dynamics] demag = true needs what the method needs: a 3D device from a .geo file (it is
    meshed again inside air) or a .msh (the air is meshed around it), and a dynamic run."""
    geo = case.geometry
    if case.dynamics.relax and case.dynamics.electrons == "transient":
        raise CaseError("[dynamics] relax = true drops the precession and the time: the electrons must be "
                        "quasi-static (electrons = 'transient' given)")
    if case.field.oersted:
        head = "[field] oersted = true"
        if case.current.drive == "none":
            raise CaseError(f"{head} needs a charge current: set current.drive = 'uniform' or 'solved'")
        if case.dynamics.t_end_s is None:
            raise CaseError(f"{head} acts in the LLG: set dynamics.t_end_s (or drop oersted)")
        if not embeddable(geo):
            raise CaseError(f"{head} needs a 3D device from a .geo or .msh file (it is embedded in an "
                            "air ball)")
    every = case.dynamics.demag_every
    if every > 1 and not demag_on(case):
        raise CaseError(f"[dynamics] demag_every = {every!r} needs the demagnetizing field ([dynamics] "
                        "demag = true, the default for a 3D device)")
    if every > 1 and case.dynamics.tolerance is not None:
        raise CaseError(f"[dynamics] demag_every = {every!r} extrapolates between the solves of fixed steps; "
                        f"tolerance = {case.dynamics.tolerance!r} takes adaptive ones (drop one of the two)")
    if case.field.oersted and case.current.drive == "uniform" and not any(case.current.j_A_per_m2 or ()):
        raise CaseError("[field] oersted = true with current.j_A_per_m2 = [0, 0, 0]: no current, no Oersted "
                        "field (drop oersted, or give the current)")
    method = case.dynamics.demag_method
    if method == "fembem" and not demag_on(case):
        raise CaseError("[dynamics] demag_method = 'fembem' and this run has no demag (demag = false, or not "
                        "a 3D device): drop demag_method")
    if method == "fembem" and case.dynamics.demag_air != DynamicsSection.demag_air:  # its default
        raise CaseError(f"[dynamics] demag_air = {case.dynamics.demag_air!r} sizes the shell method's air "
                        "ball; demag_method = 'fembem' has no air (drop demag_air)")
    h = case.dynamics.demag_h_nm
    if h is not None and not demag_on(case):
        raise CaseError(f"[dynamics] demag_h_nm = {h!r} sizes the demag's air-embedded mesh, and this run has "
                        "no demag (demag = false, or not a 3D device): drop demag_h_nm")
    if h is not None and case.dynamics.demag_method == "fembem":  # also with demag on by default
        raise CaseError(f"[dynamics] demag_h_nm = {h!r} sizes the shell method's "
                        "air-embedded mesh; demag_method = 'fembem' uses the device's own cells (refine "
                        "those, or drop demag_h_nm)")
    if not case.dynamics.demag:
        return
    head = "[dynamics] demag = true"
    if case.dynamics.t_end_s is None:
        raise CaseError(f"{head} acts in the LLG: set dynamics.t_end_s (or drop demag)")
    if not embeddable(geo):
        raise CaseError(f"{head} needs a 3D device (geometry.kind = 'gmsh' with a 3D .geo or .msh file); "
                        f"this case is {'a ' + str(geo.dim) + 'D device' if isinstance(geo, DeviceSection) else geo.kind}")


@takes_case
def check_spin_hall(case: Case) -> None:
    """A spin Hall angle needs a charge current that it can turn into a transverse spin current:
    with no drive, a zero uniform current, or (1D) a current along the mesh's only axis, the
    source would be silently nothing. `geometry.dim` of a device is checked once known."""
    tables = ({f"regions.{n}": r for n, r in case.regions.items()} if isinstance(case.geometry, DeviceSection)
              else {"material": case.material})
    hall = {where: spec.theta_SH for where, spec in tables.items() if spec.theta_SH}
    if not hall:
        return
    where, theta = next(iter(hall.items()))
    head = f"[{where}] theta_SH = {theta!r}: a spin Hall source"
    drive = case.current.drive
    if drive == "none":
        raise CaseError(f"{head} needs a charge current: set current.drive = 'uniform' (with "
                        "j_A_per_m2) or 'solved' (with contacts)" + (
                            "" if isinstance(case.geometry, DeviceSection)
                            else " in a device (geometry.kind = 'gmsh')"))
    j = case.current.j_A_per_m2
    shown = f"current.j_A_per_m2 = [{', '.join(f'{c:g}' for c in j)}]" if j is not None else ""
    if drive == "uniform" and not any(j):
        raise CaseError(f"{head} has no current: {shown}")
    if case.geometry.dim == 1 and (drive == "solved" or not (j[1] or j[2])):
        what = "a solved current" if drive == "solved" else shown
        raise CaseError(f"{head} in a 1D device needs the current across the line (its spin "
                        f"current flows across the charge current), and {what} flows along it: "
                        "use drive = 'uniform' with a y or z component (the line is the film's "
                        "thickness, the current in its plane)")


def floor_sig(x: float, digits: int = 3) -> str:
    """x rounded down to `digits` significant digits, as text: a limit printed for the user
    to copy must pass the check it came from (0.99995 -> '0.999', not '1')."""
    step = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    n = math.floor(x / step)
    while float(f"{n * step:.{digits}g}") > x:
        n -= 1
    return f"{n * step:.{digits}g}"


@takes_case
def check_resolution(case: Case, material: Material) -> str | None:
    """Refuse (or, with allow_coarse, warn about) an interface mesh too coarse for the physics;
    warn about a far mesh coarser than the transverse length. Returns the warnings or None."""
    geo = case.geometry
    if isinstance(geo, DeviceSection):  # sizes come from the file
        return None
    wave = 1.0 / abs(material.transverse_k)
    lengths = {"1/|k| (transverse decay)": wave, "l_sf": material.l_sf_nm}
    if case.magnetization.profile != "uniform":
        lengths["magnetization width w"] = case.magnetization.width_nm
    name, shortest = min(lengths.items(), key=lambda kv: kv[1])
    h = geo.h_interface_nm
    warnings = []
    if h > shortest:
        msg = (f"[geometry] h_interface_nm = {h!r}: too coarse to resolve the shortest length, "
               f"{name} = {shortest:.5g} nm; use h_interface_nm <= {floor_sig(shortest)}")
        if not geo.allow_coarse:
            raise CaseError(msg + " (or set geometry.allow_coarse = true to run anyway)")
        warnings.append(msg)
    # Transverse accumulation oscillates on 1/|k| over the whole ferromagnet (it decays only
    # on l_sf), so the far mesh should resolve it too; a coarser one also makes the
    # p-multigrid's P1 level inaccurate and its iterations grow (docs/benchmark.md).
    if geo.h_far_nm > 1.01 * wave:
        warnings.append(f"[geometry] h_far_nm = {geo.h_far_nm!r} is coarser than 1/|k| = "
                        f"{wave:.3g} nm, on which transverse accumulation varies everywhere: "
                        "the far field is under-resolved and the 'iterative' solver slows down")
    return "; ".join(warnings) or None


@takes_case
def check_size(case: Case, meshes: bool | None = None, ranks: int = 1,
               ranks_on_node: int | None = None) -> float | None:
    """Estimated cell count of the mesh to build; before Gmsh starts, refuse a case whose
    estimated peak memory (fem_spin.app.sizing, measured per DOF and preset) exceeds this
    node's memory, unless geometry.allow_large. `meshes`: whether a mesh is built (default:
    unless the case reads a mesh file); None is returned when not. `ranks` (and how many of
    them share this node) scale the estimate."""
    geo = case.geometry
    if isinstance(geo, DeviceSection) or not (geo.mesh_file is None if meshes is None else meshes):
        return None
    cells = mesh_geometry(case).estimated_cells()
    degree = case.discretization.degree
    dofs = sizing.estimated_dofs(geo.dim, degree, cells)
    preset = case.solver.preset
    if preset == "auto":
        m = material_from(case)
        preset = auto_preset(int(dofs), m.a0 * m.beta, degree, coarsest_kh(case))
    need = sizing.estimated_memory(dofs, geo.dim, preset, ranks)
    here = need * (ranks_on_node or ranks) / ranks
    have = sizing.machine_memory()
    if here > have and not geo.allow_large:
        sizes = ", ".join(f"{k} = {getattr(geo, k)!r}" for k in ("dim", "length_nm", "width_nm",
                                                                "h_interface_nm", "h_far_nm"))
        raise CaseError(f"[geometry] {sizes}: about {cells:.2g} cells (estimate), {dofs:.2g} DOFs "
                        f"(P{degree}), which need about {need / 1e9:.3g} GB with solver '{preset}' "
                        f"on {ranks} rank(s), {here / 1e9:.3g} GB of them on this node; it has "
                        f"{have / 1e9:.3g} GB. Coarsen the mesh, shrink the geometry or use more "
                        "nodes, or set geometry.allow_large = true")
    return cells


@takes_case
def expected_mesh(case: Case) -> tuple[dict[str, list[str]], list[tuple[float, float]]]:
    """Physical groups (cells, facets) and extents per axis that a mesh of this case must have."""
    geo = case.geometry
    L, W, dim = geo.length_nm, geo.width_nm, geo.dim
    if isinstance(geo, RingSection):
        from fem_spin.geometry.ring import RING_CELLS, RING_FACETS

        groups = {"cells": list(RING_CELLS), "facets": list(RING_FACETS)}
        extent = [(-W / 2, L + W / 2)] * 2 + [(-W / 2, W / 2)] * (dim - 2)
    else:
        from fem_spin.geometry.mesh import SLAB_CELLS

        groups = {"cells": list(SLAB_CELLS), "facets": ["left_end", "right_end"]}
        extent = [(-L / 2, L / 2)] + [(-W / 2, W / 2)] * (dim - 1)
    return groups, extent


@takes_case
def check_mesh_file(case: Case) -> None:
    """A `geometry.mesh_file` must be the mesh this case describes: its dimension, physical
    groups and extent, so that a mesh of another case cannot give a silently wrong answer.
    Runs Gmsh on the calling rank (rank 0)."""
    geo = case.geometry
    path = geo.mesh_file
    info = inspect_mesh_file(path)
    where = f"[geometry] mesh_file = {path!r}"
    if info.dim != geo.dim:
        raise CaseError(f"{where}: the mesh is {info.dim}D but geometry.dim = {geo.dim}")
    groups, extent = expected_mesh(case)
    for kind, have in (("cells", info.cells), ("facets", info.facets)):
        missing = [n for n in groups[kind] if n not in have]
        if missing:
            raise CaseError(f"{where}: missing physical group(s) {', '.join(missing)} for a "
                            f"{geo.kind} (it has {', '.join(sorted(have)) or 'none'})")
    tol = 1e-6 * max(abs(v) for pair in extent for v in pair) + 1e-9
    for axis, (lo, hi) in enumerate(extent):
        got = (info.bbox[axis], info.bbox[axis + 3])
        if abs(got[0] - lo) > tol or abs(got[1] - hi) > tol:
            raise CaseError(f"{where}: the mesh spans {'xyz'[axis]} in [{got[0]:.6g}, {got[1]:.6g}] nm, "
                            f"the case's {geo.kind} (length_nm = {geo.length_nm!r}, width_nm = "
                            f"{geo.width_nm!r}) spans [{lo:.6g}, {hi:.6g}] nm")


@takes_case
def check_device_file(case: Case, report: bool = True) -> int:
    """A device's file: its regions and boundaries are the case's, and one dimension, which it
    returns (geometry.dim of a device comes from its file). Reads every magnetization file too.
    Runs Gmsh on the calling rank (rank 0)."""
    geo = case.geometry
    where = f"[geometry] file = {geo.file!r}"
    if geo.parameters and Path(geo.file).suffix.lower() == ".geo":
        known = script_constants(Path(geo.file))
        unknown = [k for k in geo.parameters if k not in known]
        if unknown:
            raise CaseError(f"[geometry] parameters.{unknown[0]} = {geo.parameters[unknown[0]]!r}: "
                            f"{geo.file!r} defines no such constant (its DefineConstant names: "
                            f"{', '.join(sorted(known)) or 'none'})")
    elif geo.parameters:
        raise CaseError(f"[geometry] parameters = {geo.parameters!r}: a .msh or .xdmf file is "
                        "meshed already; parameters set a .geo script's DefineConstant values")
    info = inspect_mesh_file(geo.file, parameters=geo.parameters)
    if geo.dim is not None and geo.dim != info.dim:
        raise CaseError(f"{where}: the file is {info.dim}D but geometry.dim = {geo.dim}")
    if info.num_cells is not None:  # a device's mesh size, known before Gmsh meshes it
        what = "cells" if info.meshed else \
            f"cells at most (finest size {info.finest_size:.3g} in the file's units)"
        if report:
            logger.info("mesh: %s: %.2g %s", Path(geo.file).name, info.num_cells, what)
        need = sizing.estimated_memory(sizing.estimated_dofs(info.dim, case.discretization.degree,
                                                             info.num_cells), info.dim, "iterative", 1)
        if need > sizing.machine_memory():
            logger.warning("warning: %s may mesh into up to %.2g cells (about %.3g GB with the "
                           "iterative solver), more than this node's %.3g GB: Gmsh may run for long; "
                           "coarsen the file's sizes (geometry.parameters) if that is not meant",
                           geo.file, info.num_cells, need / 1e9, sizing.machine_memory() / 1e9)
    have_r, have_b = sorted(info.cells), sorted(info.facets)
    if not case.regions:
        raise CaseError(f"{where}: describe its regions with [regions.NAME] tables "
                        f"(regions in the file: {', '.join(have_r)})")
    for kind, given, have in (("regions", case.regions, have_r), ("boundaries", case.boundaries, have_b)):
        missing = [n for n in given if n not in have]
        want = info.dim if kind == "regions" else info.dim - 1
        what = "region (cell group)" if kind == "regions" else "boundary (facet group)"
        if missing and missing[0] in info.groups:
            raise CaseError(f"[{kind}.{missing[0]}] is a dimension-{info.groups[missing[0]]} group of "
                            f"{geo.file!r}; its {kind} are its dimension-{want} groups: "
                            f"{', '.join(have) or 'none'}")
        if missing:
            raise CaseError(f"[{kind}.{missing[0]}] is not a {what} of {geo.file!r}; it has: "
                            f"{', '.join(have) or 'none'}")
    undescribed = [n for n in have_r if n not in case.regions]
    if undescribed:
        raise CaseError(f"{where}: region(s) {', '.join(undescribed)} of the mesh are not described; "
                        f"add [regions.{undescribed[0]}] (magnet = false for a normal metal)")
    meaning = {1: "a current density through the cross-section", 2: "a current per metre of depth",
               3: "a current"}
    for name, bnd in case.boundaries.items():  # the contact current's unit is the dimension's
        given = contact_current(bnd)
        if given and given[0] != CURRENT_KEYS[info.dim]:
            raise CaseError(f"[boundaries.{name}] {given[0]} = {given[1]!r}: {geo.file!r} is {info.dim}D, "
                            f"where a contact carries {CURRENT_KEYS[info.dim]} ({meaning[info.dim]})")
    for a, b in info.overlaps:  # a cell or facet carries one tag: DOLFINx would fail or drop one
        if a in info.cells:
            raise CaseError(f"[regions.{a}] and [regions.{b}] overlap in {geo.file!r}: cells in both "
                            "groups; a cell belongs to one region (make the groups disjoint)")
        if a in case.boundaries and b in case.boundaries and case.boundaries[a] != case.boundaries[b]:
            raise CaseError(f"[boundaries.{a}] and [boundaries.{b}] overlap in {geo.file!r} (facets in "
                            "both groups) and set different conditions there; make the groups "
                            "disjoint or give them the same condition")
    for spec in case.regions.values():  # read every magnetization file now, not mid-run
        if spec.magnet and spec.profile in ("ovf", "vtk"):
            source_of(spec)
    return info.dim


def script_constants(path: Path) -> set[str]:
    """The names a .geo script defines with DefineConstant[...] (what geometry.parameters may
    set; any other name would be set and silently ignored)."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", path.read_text(errors="replace"), flags=re.S)
    names: set[str] = set()
    for block in re.findall(r"DefineConstant\s*\[(.*?)\]\s*;", text, flags=re.S):
        names.update(re.findall(r"(?:^|[,\s])([A-Za-z_]\w*)\s*=", block))
    return names


@takes_case
def check_resumable(case: Case, folder: Path, comm: MPI.Comm) -> None:
    """A dynamic run's folder left by a stopped run: keep it (its checkpoint goes on) if it was
    made by the same case (the [output] section aside), else empty it; record this case."""
    if comm.rank == 0:
        mine = json.dumps({k: v for k, v in case.to_dict().items() if k != "output"}, sort_keys=True,
                          default=str)
        stamp = folder / "case.resume.json"
        if stamp.is_file() and stamp.read_text() != mine:
            logger.warning("warning: %s holds a stopped run of another case: starting afresh", folder)
            for p in folder.iterdir():
                if p.name != LOCK:  # this run's
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        stamp.write_text(mine)
    comm.Barrier()


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

