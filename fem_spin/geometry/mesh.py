"""Gmsh geometries (CPP slab, square ring) converted to distributed DOLFINx meshes.

The Gmsh model is built on rank 0 only and distributed by
``dolfinx.io.gmsh.model_to_mesh``; every rank gets the same tags. Builders add the
model to the current Gmsh session, so the same code writes ``.msh`` files
(``fem-spin mesh``) and meshes in memory.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from fem_spin._backend import MPI, dolfinx
from fem_spin._checks import require_positive
from fem_spin.io.case import InputError

# Tags shared by all slab meshes: cells per layer, facets per end and the interface.
SLAB_CELLS = {"layer_left": 1, "layer_right": 2}
SLAB_FACETS = {"left_end": 1, "right_end": 2, "interface": 3}


@dataclass
class Domain:
    """A distributed mesh with its tags and the names of the tags."""

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags | None
    facet_tags: dolfinx.mesh.MeshTags | None
    cells: dict[str, int] = field(default_factory=dict)
    facets: dict[str, int] = field(default_factory=dict)
    info: dict[str, float | str] = field(default_factory=dict)

    @property
    def comm(self) -> MPI.Comm:
        return self.mesh.comm

    def num_cells(self) -> int:
        imap = self.mesh.topology.index_map(self.mesh.topology.dim)
        return imap.size_global


# Cells per nm^dim of a Gmsh mesh of size h, times h^dim (measured on slabs: 1D 1, 2D 2.3,
# 3D with HXT 4.3); for `estimate_cells`, which checks a case before meshing.
_CELLS_PER_H = {1: 1.0, 2: 2.3, 3: 4.3}


def estimate_cells(dim: int, length: float, width: float, h_fine: float, h_far: float,
                   distance: float, zones: int) -> float:
    """Rough cell count (within a factor ~2) of a mesh along a path of `length` with cross-
    section width^(dim-1) and `zones` refined spots: h_fine within `distance` of each, a linear
    ramp over the next `distance`, h_far elsewhere."""
    fine = min(2 * distance * zones, length)
    ramp = min(2 * distance * zones, length - fine)
    far = length - fine - ramp
    h_ramp = (h_fine + h_far) / 2
    return (_CELLS_PER_H[dim] * width ** (dim - 1)
            * (fine / h_fine**dim + ramp / h_ramp**dim + far / h_far**dim))


@dataclass(frozen=True, kw_only=True)
class GradedGeometry:
    """What the built-in meshes share: a square cross-section of side `width`, elements of
    size `h_fine` within `distance` of each refined zone (the slab's interface, the ring's
    corners), growing linearly to `h_far` over the same distance again."""

    width: float = 4.0
    h_far: float = 1.0
    refine_distance: float | None = None
    zones: ClassVar[int] = 1

    @property
    def h_fine(self) -> float:
        raise NotImplementedError

    @property
    def extent(self) -> float:
        """The length along which the mesh is graded [nm]."""
        raise NotImplementedError

    @property
    def distance(self) -> float:
        """Distance from a refined zone kept at h_fine (default 5 h_fine)."""
        return self.refine_distance if self.refine_distance is not None else 5 * self.h_fine

    def estimated_cells(self) -> float:
        return estimate_cells(self.dim, self.extent, self.width, self.h_fine, self.h_far, self.distance,
                              zones=self.zones)


@dataclass(frozen=True, kw_only=True)
class SlabGeometry(GradedGeometry):
    """A CPP slab along x in [-L/2, L/2] with the interface at x = 0.

    Attributes:
        dim: 1 (the paper's setting), 2 or 3 (the device).
        length: L [nm].
        width: side of the square cross-section [nm] (2D: height).
        h_interface: element size at the interface [nm].
        h_far: element size far from the interface [nm].
        refine_distance: distance from the interface over which the size stays
            h_interface [nm]; it then grows linearly to h_far over the same distance
            again. Defaults to 5 h_interface.
    """

    dim: int = 1
    length: float = 100.0
    h_interface: float = 0.2

    def __post_init__(self) -> None:
        if self.dim not in (1, 2, 3):
            raise ValueError(f"geometry.dim must be 1, 2 or 3, got {self.dim!r}")
        require_positive(self, "geometry", ("length", "width", "h_interface", "h_far"),
                         optional=("refine_distance",))

    @property
    def h_fine(self) -> float:
        return self.h_interface

    @property
    def extent(self) -> float:
        return self.length


def _initialize(gmsh) -> bool:
    """Start Gmsh unless it runs already; returns whether this call started it.

    Gmsh's initialize installs C-level handlers for SIGTERM (and others) that kill the process
    outright, under Python's: Python's handlers are set again, so SIGTERM (a batch system's
    time limit) still ends the run with exit 143 and no partial folder (issue 23)."""
    if gmsh.isInitialized():
        return False
    gmsh.initialize(interruptible=False)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            handler = signal.getsignal(sig)
            if handler is not None:
                signal.signal(sig, handler)
    return True


@contextlib.contextmanager
def gmsh_session(comm: MPI.Comm = MPI.COMM_WORLD, verbose: bool = False) -> Iterator[object]:
    """Initialise Gmsh (quietly) for the block and finalise it afterwards."""
    import gmsh

    started = _initialize(gmsh)
    gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
    gmsh.clear()
    try:
        yield gmsh
    finally:
        if started:
            gmsh.finalize()


def _graded_size_field(gmsh, dim: int, entities: list[int], h_min: float, h_max: float,
                       distance: float) -> None:
    """Size h_min within `distance` of the entities, growing linearly to h_max."""
    dist = gmsh.model.mesh.field.add("Distance")
    key = {0: "PointsList", 1: "CurvesList", 2: "SurfacesList"}[dim]
    gmsh.model.mesh.field.setNumbers(dist, key, entities)
    if dim > 0:
        gmsh.model.mesh.field.setNumber(dist, "Sampling", 50)
    thr = gmsh.model.mesh.field.add("Threshold")
    gmsh.model.mesh.field.setNumber(thr, "InField", dist)
    gmsh.model.mesh.field.setNumber(thr, "SizeMin", h_min)
    gmsh.model.mesh.field.setNumber(thr, "SizeMax", max(h_max, h_min))
    gmsh.model.mesh.field.setNumber(thr, "DistMin", distance)
    gmsh.model.mesh.field.setNumber(thr, "DistMax", distance + max(h_max - h_min, 0) / 0.2)
    gmsh.model.mesh.field.setAsBackgroundMesh(thr)
    for opt in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints", "MeshSizeFromCurvature"):
        gmsh.option.setNumber(f"Mesh.{opt}", 0)


def add_slab_model(gmsh, geo: SlabGeometry) -> None:
    """Add the slab's geometry, physical groups and size field to the Gmsh model."""
    L, W = geo.length, geo.width
    gmsh.model.add("slab")
    occ = gmsh.model.occ
    if geo.dim == 1:
        p = [occ.addPoint(x, 0, 0) for x in (-L / 2, 0.0, L / 2)]
        left, right = occ.addLine(p[0], p[1]), occ.addLine(p[1], p[2])
        occ.synchronize()
        ends, iface = ([p[0]], [p[2]]), [p[1]]
    else:
        if geo.dim == 2:
            a = occ.addRectangle(-L / 2, -W / 2, 0, L / 2, W)
            b = occ.addRectangle(0, -W / 2, 0, L / 2, W)
        else:
            a = occ.addBox(-L / 2, -W / 2, -W / 2, L / 2, W, W)
            b = occ.addBox(0, -W / 2, -W / 2, L / 2, W, W)
        occ.fragment([(geo.dim, a)], [(geo.dim, b)])
        occ.synchronize()
        vols = gmsh.model.getEntities(geo.dim)
        left = [t for d, t in vols if occ.getCenterOfMass(d, t)[0] < 0][0]
        right = [t for d, t in vols if occ.getCenterOfMass(d, t)[0] > 0][0]
        fdim = geo.dim - 1

        def facets_at(x0: float) -> list[int]:
            return [t for _, t in gmsh.model.getEntities(fdim)
                    if abs(occ.getCenterOfMass(fdim, t)[0] - x0) < 1e-6 * L
                    and _is_cross_section(gmsh, fdim, t, x0, L)]

        ends, iface = (facets_at(-L / 2), facets_at(L / 2)), facets_at(0.0)
    d, fdim = geo.dim, geo.dim - 1
    gmsh.model.addPhysicalGroup(d, [left], SLAB_CELLS["layer_left"], name="layer_left")
    gmsh.model.addPhysicalGroup(d, [right], SLAB_CELLS["layer_right"], name="layer_right")
    gmsh.model.addPhysicalGroup(fdim, ends[0], SLAB_FACETS["left_end"], name="left_end")
    gmsh.model.addPhysicalGroup(fdim, ends[1], SLAB_FACETS["right_end"], name="right_end")
    gmsh.model.addPhysicalGroup(fdim, iface, SLAB_FACETS["interface"], name="interface")
    _graded_size_field(gmsh, fdim, iface, geo.h_interface, geo.h_far, geo.distance)


def _is_cross_section(gmsh, fdim: int, tag: int, x0: float, L: float) -> bool:
    """True if the facet lies in the plane x = x0 (a cross-section, not a side)."""
    xmin, _, _, xmax, _, _ = gmsh.model.getBoundingBox(fdim, tag)
    return abs(xmin - x0) < 1e-6 * L and abs(xmax - x0) < 1e-6 * L  # OCC pads boxes


def mesh_model(comm: MPI.Comm, add_model: Callable[[object], None], gdim: int,
               order: int = 1, msh_file: Path | None = None, generate: bool = True) -> Domain | None:
    """Build a Gmsh model on rank 0, mesh it, and distribute it (or write it).

    Args:
        comm: communicator of the mesh.
        add_model: adds geometry, physical groups and size fields to gmsh (or opens a file).
        gdim: geometric dimension of the DOLFINx mesh.
        order: geometric order of the Gmsh mesh.
        msh_file: if given, write the mesh there and return None.
        generate: mesh the model (False when add_model loaded a mesh).
    """
    with gmsh_session(comm) as gmsh:
        error = None
        if comm.rank == 0:
            try:
                add_model(gmsh)
                if gdim == 3:  # HXT: parallel Delaunay, 7x faster than the default here
                    gmsh.option.setNumber("Mesh.Algorithm3D", 10)
                if generate:
                    gmsh.model.mesh.generate(gdim)
                if order > 1:
                    gmsh.model.mesh.setOrder(order)
                if msh_file is not None:
                    gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
                    gmsh.write(str(msh_file))
            except Exception as exc:  # noqa: BLE001 - re-raised on every rank below
                error = f"{type(exc).__name__}: {exc}"
        error = comm.bcast(error, root=0)
        if error is not None:
            raise RuntimeError(f"Gmsh failed: {error}")
        if msh_file is not None:
            return None
        data = dolfinx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=gdim)
    return _domain_from(data)


def _domain_from(data) -> Domain:
    dim = data.mesh.topology.dim
    groups = {name: tag for name, (d, tag) in
              ((n, (pg.dim, pg.tag)) for n, pg in data.physical_groups.items())}
    cells = {n: t for n, t in groups.items() if data.physical_groups[n].dim == dim}
    facets = {n: t for n, t in groups.items() if data.physical_groups[n].dim == dim - 1}
    data.mesh.topology.create_connectivity(dim - 1, dim)
    return Domain(data.mesh, data.cell_tags, data.facet_tags, cells, facets)


class MeshFileError(InputError):
    """A mesh file that cannot be used: the message names the file and what is wrong."""


@dataclass(frozen=True)
class MeshFileInfo:
    """What a Gmsh file holds, read before any mesh is distributed.

    Attributes:
        path: the file.
        dim: dimension of its highest entities (the cells).
        cells: physical groups of dimension `dim` (regions), name -> tag.
        facets: physical groups of dimension dim - 1 (boundaries), name -> tag.
        bbox: (xmin, ymin, zmin, xmax, ymax, zmax).
        meshed: whether the file holds mesh nodes (a .msh) or only geometry (a .geo).
        groups: every named physical group, name -> dimension.
        overlaps: pairs of cell groups or of facet groups that share entities (a .geo or .msh;
            a cell or facet can only carry one tag).
        num_cells: the cells of a .msh; for a .geo an upper estimate before meshing (its
            bounding box filled at the finest size the script asks for anywhere).
        finest_size: that finest size (a .geo), or None.
    """

    path: str
    dim: int
    cells: dict[str, int]
    facets: dict[str, int]
    bbox: tuple[float, ...]
    meshed: bool
    groups: dict[str, int] = field(default_factory=dict)
    overlaps: list[tuple[str, str]] = field(default_factory=list)
    num_cells: float | None = None
    finest_size: float | None = None


def load_gmsh_file(gmsh, path: str | Path, parameters: dict[str, float] | None = None) -> None:
    """Load a .msh or .geo file into the (cleared) Gmsh model, with .geo parameters set first
    (`merge`, not `open`: open forgets parser numbers, and DefineConstant keeps a set one)."""
    gmsh.clear()
    for name, value in (parameters or {}).items():
        gmsh.parser.setNumber(name, [float(value)])
    try:
        gmsh.merge(str(path))
    except Exception:
        _flush_gmsh_parser(gmsh)
        raise


def _flush_gmsh_parser(gmsh) -> None:
    """After a syntax error Gmsh's .geo lexer keeps the rest of the bad file and feeds it to the
    next file it parses (in this process, even after finalize): parse a comment until it
    passes, so one bad file does not break every later one (a sweep, a test session)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        flush = Path(tmp) / "flush.geo"
        flush.write_text("// fem_spin: reset the Gmsh parser\n")
        for _ in range(8):
            try:
                gmsh.merge(str(flush))
                break
            except Exception:  # noqa: BLE001, S112 - Gmsh raises plain Exception; try again
                continue
    gmsh.clear()


def inspect_mesh_file(path: str | Path, verbose: bool = False,
                      parameters: dict[str, float] | None = None) -> MeshFileInfo:
    """Open a Gmsh file (.msh, or a .geo script) on the calling rank only and describe it.

    Raises MeshFileError (one line: the file and Gmsh's complaint) for a missing, corrupt
    or foreign file, and for one without named physical groups.
    """
    path = Path(path)
    if path.suffix.lower() == XDMF_SUFFIX:
        return xdmf_info(path)
    if not path.is_file():
        raise MeshFileError(f"mesh file {str(path)!r} does not exist")
    import gmsh

    fresh = _initialize(gmsh)
    try:
        gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
        try:
            load_gmsh_file(gmsh, path, parameters)
        except Exception as exc:  # noqa: BLE001 - Gmsh raises plain Exception
            raise MeshFileError(f"mesh file {str(path)!r} cannot be read by Gmsh: {exc}") from None
        dim = gmsh.model.getDimension()
        if dim < 1:
            raise MeshFileError(f"mesh file {str(path)!r} holds no curves, surfaces or volumes")
        names = {(d, t): gmsh.model.getPhysicalName(d, t) for d, t in gmsh.model.getPhysicalGroups()}
        unnamed = [f"dim {d} tag {t}" for (d, t), n in names.items() if not n and d >= dim - 1]
        if not names:
            raise MeshFileError(f"mesh file {str(path)!r} has no physical groups: name its regions "
                                "(cells) and boundaries (facets) with Physical Volume/Surface/Curve")
        if unnamed:
            raise MeshFileError(f"mesh file {str(path)!r}: physical groups without a name "
                                f"({', '.join(unnamed)}); give each a name")
        cells = {n: t for (d, t), n in names.items() if d == dim}
        facets = {n: t for (d, t), n in names.items() if d == dim - 1}
        if not cells:
            raise MeshFileError(f"mesh file {str(path)!r} has no physical group of dimension {dim} "
                                f"(its cells); groups: {', '.join(sorted(names.values()))}")
        meshed = len(gmsh.model.mesh.getNodes()[0]) > 0
        bbox = tuple(float(v) for v in gmsh.model.getBoundingBox(-1, -1))
        overlaps = []
        for d, groups in ((dim, cells), (dim - 1, facets)):
            members = {n: set(gmsh.model.getEntitiesForPhysicalGroup(d, t)) for n, t in groups.items()}
            names_d = sorted(members)
            overlaps += [(a, b) for i, a in enumerate(names_d) for b in names_d[i + 1:]
                         if members[a] & members[b]]
        ncells, finest = _cell_count(gmsh, dim, bbox, meshed)
        return MeshFileInfo(str(path), dim, cells, facets, bbox, meshed,
                            {n: d for (d, _), n in names.items()}, overlaps, ncells, finest)
    finally:
        gmsh.clear()
        if fresh:
            gmsh.finalize()


def _cell_count(gmsh, dim: int, bbox: tuple[float, ...], meshed: bool
                ) -> tuple[float | None, float | None]:
    """Cells of a meshed file; for a script, an upper estimate from the finest size it sets
    (point sizes, size fields' SizeMin, Mesh.MeshSizeMin/Max) over its bounding box."""
    if meshed:
        return float(sum(len(t) for t in gmsh.model.mesh.getElements(dim)[1])), None
    sizes = [s for s in gmsh.model.mesh.getSizes(gmsh.model.getEntities(0)) if s > 0]
    for tag in gmsh.model.mesh.field.list():
        for option in ("SizeMin", "VIn", "VOut", "SizeMax"):  # Threshold, Box, ...
            try:
                sizes.append(gmsh.model.mesh.field.getNumber(tag, option))
            except Exception:  # noqa: BLE001 - a field without that option
                pass
    lo, hi = gmsh.option.getNumber("Mesh.MeshSizeMin"), gmsh.option.getNumber("Mesh.MeshSizeMax")
    sizes = [min(max(s, lo), hi) for s in sizes if s > 0] or ([hi] if hi < 1e20 else [])
    if not sizes:
        return None, None
    h = min(sizes)
    extent = [bbox[i + 3] - bbox[i] for i in range(3)]
    measure = float(np.prod([e for e in extent if e > 1e-12 * max(extent)][:dim]) or 0.0)
    return _CELLS_PER_H[dim] * measure / h**dim, h


XDMF_SUFFIX = ".xdmf"


def names_file(path: str | Path) -> Path:
    """The JSON next to an XDMF mesh with what XDMF cannot hold: the names of the tags."""
    return Path(path).with_suffix(".names.json")


def write_xdmf(domain: Domain, path: str | Path) -> list[Path]:
    """Write a distributed mesh and its cell/facet tags as XDMF + HDF5 (every rank writes its
    part) and the tag names as JSON (rank 0): a mesh that `read_xdmf` reads on any number of
    ranks, each reading its own part, with no Gmsh and no rank-0 bottleneck."""
    path = Path(path)
    mesh = domain.mesh
    with dolfinx.io.XDMFFile(mesh.comm, path, "w") as f:
        f.write_mesh(mesh)
        for tags in (domain.cell_tags, domain.facet_tags):
            if tags is not None:
                f.write_meshtags(tags, mesh.geometry)
    x = mesh.geometry.x
    n = mesh.topology.index_map(0).size_local
    lo, hi = np.empty(3), np.empty(3)
    mesh.comm.Allreduce(x[:n].min(axis=0) if n else np.full(3, np.inf), lo, op=MPI.MIN)
    mesh.comm.Allreduce(x[:n].max(axis=0) if n else np.full(3, -np.inf), hi, op=MPI.MAX)
    if mesh.comm.rank == 0:
        names_file(path).write_text(json.dumps({
            "written_by": "fem-spin mesh", "dim": mesh.topology.dim, "cells": domain.cells,
            "facets": domain.facets, "bbox": [*map(float, lo), *map(float, hi)],
            "cell_tags": domain.cell_tags.name if domain.cell_tags is not None else None,
            "facet_tags": domain.facet_tags.name if domain.facet_tags is not None else None},
            indent=1) + "\n")
    mesh.comm.Barrier()
    return [path, path.with_suffix(".h5"), names_file(path)]


def xdmf_info(path: str | Path) -> MeshFileInfo:
    """MeshFileInfo of an XDMF mesh from its names file (no mesh is read)."""
    path = Path(path)
    names = names_file(path)
    if not path.is_file():
        raise MeshFileError(f"mesh file {str(path)!r} does not exist")
    if not names.is_file() or not path.with_suffix(".h5").is_file():
        raise MeshFileError(f"mesh file {str(path)!r} needs {path.with_suffix('.h5').name!r} and "
                            f"{names.name!r} next to it (`fem-spin mesh ... -o {path.name}` writes all three)")
    try:
        d = json.loads(names.read_text())
        return MeshFileInfo(str(path), int(d["dim"]), dict(d["cells"]), dict(d["facets"]),
                            tuple(d["bbox"]), True, {**{k: int(d["dim"]) for k in d["cells"]},
                                                     **{k: int(d["dim"]) - 1 for k in d["facets"]}})
    except (ValueError, KeyError, TypeError) as exc:
        raise MeshFileError(f"{str(names)!r} is not a fem-spin mesh names file ({exc})") from None


def read_xdmf(path: str | Path, comm: MPI.Comm = MPI.COMM_WORLD) -> Domain:
    """Read a mesh written by `write_xdmf` in parallel (each rank its part of the HDF5 file)."""
    info = xdmf_info(path)
    names = json.loads(names_file(path).read_text())
    with dolfinx.io.XDMFFile(comm, str(path), "r") as f:
        mesh = f.read_mesh(name="mesh")
        dim = mesh.topology.dim
        mesh.topology.create_connectivity(dim - 1, dim)
        cell_tags = f.read_meshtags(mesh, names["cell_tags"]) if names["cell_tags"] else None
        facet_tags = f.read_meshtags(mesh, names["facet_tags"]) if names["facet_tags"] else None
    return Domain(mesh, cell_tags, facet_tags, info.cells, info.facets)


def build_from_file(path: str | Path, dim: int, comm: MPI.Comm = MPI.COMM_WORLD,
                    parameters: dict[str, float] | None = None, unit_nm: float = 1.0,
                    msh_file: Path | None = None) -> Domain | None:
    """The one way to read a mesh file: a Gmsh .geo script (meshed on rank 0), a .msh file
    (read on rank 0, e.g. from `fem-spin mesh`) or an .xdmf file (read in parallel), in nm.

    `dim`: the file's dimension (from `inspect_mesh_file`); `unit_nm`: the file's length unit
    in nm (coordinates are scaled after distribution, so the mesh is in nm like every other);
    `msh_file`: also write the mesh there (.geo and .msh). Gmsh stays quiet (check the file
    first with `inspect_mesh_file`).
    """
    path = Path(path)
    if path.suffix.lower() == XDMF_SUFFIX:
        dom = read_xdmf(path, comm)
    else:
        meshed = path.suffix.lower() == ".msh"
        dom = mesh_model(comm, lambda g: load_gmsh_file(g, path, parameters), gdim=dim,
                         msh_file=msh_file, generate=not meshed)
    if dom is not None:
        if unit_nm != 1.0:
            dom.mesh.geometry.x[:] *= unit_nm
        dom.info.update(dim=dim, file=str(path))
    return dom


def build_slab(geo: SlabGeometry, comm: MPI.Comm = MPI.COMM_WORLD, msh_file: Path | None = None
               ) -> Domain | None:
    """Mesh the CPP slab: graded to h_interface at x = 0, h_far away from it."""
    dom = mesh_model(comm, lambda g: add_slab_model(g, geo), gdim=geo.dim, msh_file=msh_file)
    if dom is not None:
        dom.info.update(kind="slab", dim=geo.dim, length=geo.length, width=geo.width,
                        h_interface=geo.h_interface, h_far=geo.h_far)
    return dom
