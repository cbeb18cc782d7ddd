"""Open-boundary geometries: magnets (or conductors) inside an air ball inside a shell.

Magnetostatic potentials decay at infinity; the shell transformation
(fem_spin.physics.magnetostatics) maps the shell R1 <= |x - c| <= R2 onto the whole exterior
|x - c| >= R1, so the mesh only has to reach R2. `embed` adds the air ball and the shell to a
Gmsh OCC model that holds the magnet volumes (surfaces in 2D) with their physical groups;
`build_embedded` does that on rank 0 and distributes the mesh (fem_spin.geometry.mesh.mesh_model).
The element size is h_magnet in the magnets and grows linearly with the distance from them
(slope `growth`) up to h_far, which it keeps up to the air's edge; in the shell it grows from
h_far at R1 to h_far R2/R1 at R2 (the same angular resolution at every radius). The field
outside is smooth, so the far mesh can be coarse. Radii: R1 twice the magnets' extent and
R2 = 2 R1 (`AirBox.around`): a sphere's demagnetizing factor errs by 4% at R1 = 1.25 R, 0.47%
at 2 R and 0.26% at 3 R for h = R/5, where the discretisation alone gives 0.2%
(docs/magnetostatics.md).

Lengths in nm, as every fem_spin mesh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fem_spin._backend import MPI
from fem_spin.geometry.mesh import Domain, mesh_model
from fem_spin.progress import logger

AIR, SHELL, INFINITY = "air", "shell", "infinity"


@dataclass(frozen=True, kw_only=True)
class AirBox:
    """The open-boundary region around the magnets.

    Attributes:
        R1: radius of the air ball (the shell's inner radius) [nm]; it must hold every magnet.
        R2: the shell's outer radius [nm], mapped to infinity.
        h_magnet: element size in the magnets [nm].
        h_far: the largest element size (far air and shell) [nm].
        growth: how fast the size grows with the distance from the magnets (dh/dd).
        center: the centre of the ball and shell [nm] (the transformation's centre).
        h_outer: the element size at the shell's outer surface R2 [nm]; it varies linearly
            with r from h_far at R1. Default h_far R2/R1: the same angular resolution at every
            radius, as the mapped field varies on the scale of the mapped radius (a uniform
            h_far costs 1.5-5x the cells for 0.2% on a sphere's N: docs/magnetostatics.md).
    """

    R1: float
    R2: float
    h_magnet: float
    h_far: float
    growth: float = 0.3
    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    h_outer: float | None = None

    @classmethod
    def around(cls, extent: float, h_magnet: float, h_far: float | None = None, **kwargs) -> AirBox:
        """The measured choice for magnets within `extent` nm of the centre: R1 = 2 extent,
        R2 = 2 R1, h_far = 3 h_magnet unless given."""
        return cls(R1=2 * extent, R2=4 * extent, h_magnet=h_magnet,
                   h_far=3 * h_magnet if h_far is None else h_far, **kwargs)

    def __post_init__(self) -> None:
        for name in ("R1", "R2", "h_magnet", "h_far", "growth"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not self.R2 > self.R1:
            raise ValueError(f"the shell's outer radius R2 = {self.R2} must exceed R1 = {self.R1}")


def embed(gmsh, box: AirBox, air_tag: int | None = None, shell_tag: int | None = None,
          infinity_tag: int | None = None) -> dict[str, int]:
    """Add the air ball and the shell around the model's magnets (call on the Gmsh rank only).

    The model's top-dimensional entities with physical groups are the magnets (they must not
    overlap one another); entities without one become air. Everything is fragmented into one
    conforming mesh (the magnets' groups keep their names and tags), and physical groups `air`,
    `shell` (cells) and `infinity` (the outer boundary, where the potential is 0) are added, by
    default with the next free tags. Sets the size field (h_magnet inside the magnets, growing
    away from them). Returns {"air": tag, "shell": tag, "infinity": tag}.

    Raises ValueError if a magnet is not inside the ball of radius R1.
    """
    occ, model = gmsh.model.occ, gmsh.model
    occ.synchronize()
    dim = model.getDimension()
    if dim not in (2, 3):
        raise ValueError(f"air.embed needs a 2D or 3D model, got dimension {dim}")
    groups = [(tag, model.getPhysicalName(dim, tag), list(model.getEntitiesForPhysicalGroup(dim, tag)))
              for _, tag in model.getPhysicalGroups(dim)]
    if not groups:
        raise ValueError("air.embed: the model has no physical group of dimension "
                         f"{dim} (name the magnet volumes)")
    magnets = sorted({e for _, _, ents in groups for e in ents})
    loose = [t for _, t in model.getEntities(dim) if t not in magnets]
    c = np.asarray(box.center, float)
    far = _farthest_point(model, dim, magnets + loose, c)
    if far >= box.R1:
        centre = tuple(float(v) for v in c)
        raise ValueError(f"air.embed: the magnets reach {far:.4g} nm from the centre {centre}, "
                         f"outside the air ball R1 = {box.R1} nm (make R1 larger)")
    # The caller's facet groups would not survive the fragment (their entities change).
    dropped = [model.getPhysicalName(dim - 1, t) or str(t) for _, t in model.getPhysicalGroups(dim - 1)]
    if dropped:
        logger.warning("air: dropping the facet groups %s (the fragment renumbers the surfaces)",
                       ", ".join(dropped))
    model.removePhysicalGroups()
    if dim == 3:
        ball, outer = occ.addSphere(*c, box.R1), occ.addSphere(*c, box.R2)
    else:
        ball = occ.addDisk(c[0], c[1], 0.0, box.R1, box.R1)
        outer = occ.addDisk(c[0], c[1], 0.0, box.R2, box.R2)
    parts = magnets + loose
    _, children = occ.fragment([(dim, t) for t in parts], [(dim, ball), (dim, outer)])
    occ.synchronize()
    new_of = {t: {e for d, e in children[i] if d == dim} for i, t in enumerate(parts)}
    inside_ball = {e for d, e in children[-2] if d == dim}
    everything = {e for d, e in children[-1] if d == dim}
    magnet_new = {e for t in magnets for e in new_of[t]}
    air = sorted(inside_ball - magnet_new)
    shell = sorted(everything - inside_ball)
    outer_facets = [t for d, t in model.getBoundary([(dim, e) for e in sorted(everything)],
                                                    combined=True, oriented=False) if d == dim - 1]
    for tag, name, ents in groups:
        model.addPhysicalGroup(dim, sorted({e for t in ents for e in new_of[t]}), tag, name=name)
    cell_tags = [t for t, _, _ in groups]
    air_tag = air_tag if air_tag is not None else max(cell_tags) + 1
    shell_tag = shell_tag if shell_tag is not None else max(cell_tags + [air_tag]) + 1
    infinity_tag = infinity_tag if infinity_tag is not None else 1
    model.addPhysicalGroup(dim, air, air_tag, name=AIR)
    model.addPhysicalGroup(dim, shell, shell_tag, name=SHELL)
    model.addPhysicalGroup(dim - 1, outer_facets, infinity_tag, name=INFINITY)
    _size_field(gmsh, dim, sorted(magnet_new), air, shell, box)
    h_out = box.h_far * box.R2 / box.R1 if box.h_outer is None else box.h_outer
    logger.info("air: magnets %s inside an air ball R1 = %g nm (tag %d%s) and a shell to R2 = %g nm "
                "(tag %d, outer boundary tag %d), centre %s; h = %g nm in the magnets, growing by %g per nm "
                "to %g nm, %g nm at R2", ", ".join(f"{n or '?'} ({t})" for t, n, _ in groups), box.R1,
                air_tag, f", with {len(loose)} untagged part(s)" if loose else "", box.R2, shell_tag,
                infinity_tag, tuple(float(v) for v in c), box.h_magnet, box.growth, box.h_far, h_out)
    return {AIR: air_tag, SHELL: shell_tag, INFINITY: infinity_tag}


def embed_mesh(gmsh, box: AirBox) -> dict[str, int]:
    """`embed` for a model that is a 3D mesh already (a device's .msh, merged): its volumes keep
    their cells, and the air between their outer surface and the ball R1, and the shell, are
    meshed to fit (Gmsh's built-in kernel: volumes bounded by the mesh's own discrete surfaces,
    spheres of spherical triangles, so the shell's nodes lie on |x - c| = R1, R2). The facet
    groups are dropped (the twin needs none). Call on the Gmsh rank only, before generate(3),
    which leaves the meshed volumes as they are. Returns {"air": tag, "shell": tag,
    "infinity": tag}.

    Raises ValueError if the mesh is not 3D, has no named volumes, or reaches past R1.
    """
    model, geo = gmsh.model, gmsh.model.geo
    if model.getDimension() != 3:
        raise ValueError(f"air.embed_mesh needs a 3D mesh, got dimension {model.getDimension()}")
    groups = [(tag, model.getPhysicalName(3, tag)) for _, tag in model.getPhysicalGroups(3)]
    if not groups:
        raise ValueError("air.embed_mesh: the mesh has no physical volume (name its regions)")
    volumes = [t for _, t in model.getEntities(3)]
    c = np.asarray(box.center, float)
    far = float(np.max(np.linalg.norm(model.mesh.getNodes()[1].reshape(-1, 3) - c, axis=1)))
    if far >= box.R1:
        raise ValueError(f"air.embed_mesh: the mesh reaches {far:.4g} nm from the centre "
                         f"{tuple(float(v) for v in c)}, outside the air ball R1 = {box.R1} nm")

    def outer_surface() -> list[int]:
        faces = model.getBoundary([(3, t) for t in volumes], combined=True, oriented=False)
        return sorted({abs(t) for d, t in faces if d == 2})

    faces = outer_surface()
    if not faces:  # MSH 2 keeps no topology: rebuild it from the elements
        model.mesh.createTopology()
        volumes = [t for _, t in model.getEntities(3)]
        faces = outer_surface()
    model.removePhysicalGroups(model.getPhysicalGroups(2))
    h_out = box.h_far * box.R2 / box.R1 if box.h_outer is None else box.h_outer
    ball, ball_faces = _geo_sphere(geo, c, box.R1, box.h_far)
    outer, outer_faces = _geo_sphere(geo, c, box.R2, h_out)
    air = geo.addVolume([ball, geo.addSurfaceLoop(faces)])
    shell = geo.addVolume([outer, ball])
    geo.synchronize()
    tags = [t for t, _ in groups]
    air_tag, shell_tag = max(tags) + 1, max(tags) + 2
    model.addPhysicalGroup(3, [air], air_tag, name=AIR)
    model.addPhysicalGroup(3, [shell], shell_tag, name=SHELL)
    model.addPhysicalGroup(2, outer_faces, 1, name=INFINITY)
    _size_field(gmsh, 3, volumes, [air], [shell], box)
    logger.info("air: the meshed regions %s kept as they are, inside an air ball R1 = %g nm (tag %d) and "
                "a shell to R2 = %g nm (tag %d), centre %s; h = %g nm at their surface, growing by %g per "
                "nm to %g nm, %g nm at R2", ", ".join(f"{n or '?'} ({t})" for t, n in groups), box.R1,
                air_tag, box.R2, shell_tag, tuple(float(v) for v in c), box.h_magnet, box.growth,
                box.h_far, h_out)
    return {AIR: air_tag, SHELL: shell_tag, INFINITY: 1}


def _geo_sphere(geo, c: np.ndarray, R: float, h: float) -> tuple[int, list[int]]:
    """A sphere in Gmsh's built-in kernel: 8 spherical triangles (the octants) on 6 points.
    Returns (its surface loop, its surfaces)."""
    centre = geo.addPoint(*c, h)
    offsets = [(R, 0, 0), (0, R, 0), (-R, 0, 0), (0, -R, 0), (0, 0, R), (0, 0, -R)]
    p = [geo.addPoint(*(c + np.asarray(o, float)), h) for o in offsets]
    arcs = {}
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (1, 4), (2, 4), (3, 4), (0, 5), (1, 5), (2, 5), (3, 5)]:
        arcs[(a, b)] = geo.addCircleArc(p[a], centre, p[b])

    def arc(a: int, b: int) -> int:
        return arcs[(a, b)] if (a, b) in arcs else -arcs[(b, a)]

    faces = []
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 0)]:
        for pole in (4, 5):
            loop = geo.addCurveLoop([arc(a, b), arc(b, pole), arc(pole, a)])
            faces.append(geo.addSurfaceFilling([loop], sphereCenterTag=centre))
    return geo.addSurfaceLoop(faces), faces


def _farthest_point(model, dim: int, entities: list[int], c: np.ndarray) -> float:
    """The largest distance from c of points sampled on the entities' boundaries (a 40 x 40
    grid of each face's parameters, 200 points per curve in 2D)."""
    far = 0.0
    faces = {t for _, t in model.getBoundary([(dim, e) for e in entities], combined=False, oriented=False)}
    for t in sorted(faces):
        lo, hi = model.getParametrizationBounds(dim - 1, t)
        axes = [np.linspace(lo[k], hi[k], 40 if dim == 3 else 200) for k in range(dim - 1)]
        params = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1)
        x = np.asarray(model.getValue(dim - 1, t, params)).reshape(-1, 3)
        far = max(far, float(np.max(np.linalg.norm(x - c, axis=1))))
    return far


def _num(v: float) -> str:
    """v without an exponent (its shortest repr when that has none, else 20 decimals): Gmsh's
    MathEval parser fails on exponents ('1e-07') and aborts the process (a bounding-box
    centre of -5e-07 nm did, in `y--5e-07`). Full precision: the mesh follows the sizes to
    the last digit (12 decimals moved a 12k-cell mesh by 96 cells)."""
    text = repr(float(v))
    return text if "e" not in text else f"{float(v):.20f}"


def _signed(v: float) -> str:
    """'+v' or '-|v|' for an expression (no '--')."""
    return ("-" if v < 0 else "+") + _num(abs(v))


def _size_field(gmsh, dim: int, magnets: list[int], air: list[int], shell: list[int], box: AirBox) -> None:
    """h_magnet in the magnets; in the air h_magnet + growth * (distance from them) up to h_far;
    in the shell from h_far at R1 linearly to h_outer at R2."""
    fld = gmsh.model.mesh.field
    vols = "VolumesList" if dim == 3 else "SurfacesList"
    surfaces = sorted({t for _, t in gmsh.model.getBoundary([(dim, e) for e in magnets],
                                                              combined=False, oriented=False)})
    dist = fld.add("Distance")
    fld.setNumbers(dist, "SurfacesList" if dim == 3 else "CurvesList", surfaces)
    fld.setNumber(dist, "Sampling", 100)
    thr = fld.add("Threshold")
    fld.setNumber(thr, "InField", dist)
    fld.setNumber(thr, "SizeMin", box.h_magnet)
    fld.setNumber(thr, "SizeMax", max(box.h_far, box.h_magnet))
    fld.setNumber(thr, "DistMin", 0.0)
    fld.setNumber(thr, "DistMax", max(box.h_far - box.h_magnet, 0.0) / box.growth)
    near = fld.add("Restrict")
    fld.setNumber(near, "InField", thr)
    fld.setNumbers(near, vols, magnets + air)
    inside = fld.add("Constant")
    fld.setNumber(inside, "VIn", box.h_magnet)
    fld.setNumber(inside, "VOut", 1e22)
    fld.setNumbers(inside, vols, magnets)
    radial = fld.add("MathEval")
    h_out = box.h_far * box.R2 / box.R1 if box.h_outer is None else box.h_outer
    slope = (h_out - box.h_far) / (box.R2 - box.R1)
    r = "Sqrt(" + "+".join(f"({v}{_signed(-c)})^2" for v, c in zip("xyz", box.center)) + ")"
    expr = f"{_num(box.h_far)}{_signed(slope)}*({r}{_signed(-box.R1)})"
    fld.setString(radial, "F", expr)
    outer = fld.add("Restrict")
    fld.setNumber(outer, "InField", radial)
    fld.setNumbers(outer, vols, shell)
    both = fld.add("Min")
    fld.setNumbers(both, "FieldsList", [near, inside, outer])
    fld.setAsBackgroundMesh(both)
    for opt in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints", "MeshSizeFromCurvature"):
        gmsh.option.setNumber(f"Mesh.{opt}", 0)
    # the background field sizes everything: a device file's Mesh.MeshSizeMax = h (a uniform
    # device mesh) would otherwise mesh the whole air ball at h (SP4's film: > 7 GB in Gmsh)
    gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
    gmsh.option.setNumber("Mesh.MeshSizeMax", 1e22)


# --- magnet shapes (each adds one entity and its physical group to the current model) ---

def add_spheroid(gmsh, a: float, c: float, name: str = "magnet", tag: int = 1,
                 center: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
    """A spheroid with semi-axes a (x, y) and c (z) [nm]: a sphere for a = c, prolate for
    c > a, oblate for c < a."""
    occ = gmsh.model.occ
    vol = occ.addSphere(0.0, 0.0, 0.0, 1.0)
    occ.dilate([(3, vol)], 0.0, 0.0, 0.0, a, a, c)
    occ.translate([(3, vol)], *center)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(3, [vol], tag, name=name)


def add_box(gmsh, lx: float, ly: float, lz: float, name: str = "magnet", tag: int = 1,
            center: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
    """A rectangular prism lx x ly x lz [nm] centred at `center` (a thin film for small lz)."""
    occ = gmsh.model.occ
    vol = occ.addBox(center[0] - lx / 2, center[1] - ly / 2, center[2] - lz / 2, lx, ly, lz)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(3, [vol], tag, name=name)


def add_cylinder(gmsh, radius: float, length: float, name: str = "wire", tag: int = 1,
                 center: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
    """A circular cylinder along z of `radius` and `length` [nm] centred at `center`."""
    occ = gmsh.model.occ
    vol = occ.addCylinder(center[0], center[1], center[2] - length / 2, 0.0, 0.0, length, radius)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(3, [vol], tag, name=name)


def add_disk(gmsh, radius: float, name: str = "wire", tag: int = 1,
             center: Sequence[float] = (0.0, 0.0)) -> None:
    """A 2D disc [nm]: the cross-section of a long wire along z or of an infinite cylinder."""
    occ = gmsh.model.occ
    surf = occ.addDisk(center[0], center[1], 0.0, radius, radius)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [surf], tag, name=name)


def build_embedded(shapes: Callable[[object], None] | Sequence[Callable[[object], None]], box: AirBox,
                   dim: int = 3, comm: MPI.Comm = MPI.COMM_WORLD, msh_file=None) -> Domain | None:
    """Mesh magnets inside air and shell on rank 0 and distribute the mesh.

    Args:
        shapes: callables gmsh -> None that add the magnets with their physical groups (e.g.
            ``functools.partial(add_spheroid, a=10, c=20)``); each is called in turn.
        box: the air ball, shell and element sizes.
        dim: 3, or 2 for cross-sections (wires along z, infinite prisms).
        comm: the mesh's communicator.
        msh_file: write the mesh there instead (returns None).

    Returns:
        a Domain whose `cells` name the magnets, `air` and `shell`, `facets` the `infinity`
        boundary, and `info` holds R1, R2 and the centre (what DemagField and OerstedField take).
    """
    shapes = [shapes] if callable(shapes) else list(shapes)

    def add(gmsh) -> None:
        gmsh.model.add("embedded")
        for shape in shapes:
            shape(gmsh)
        embed(gmsh, box)

    dom = mesh_model(comm, add, gdim=dim, msh_file=msh_file)
    if dom is not None:
        dom.info.update(kind="embedded", dim=dim, R1=box.R1, R2=box.R2, center=tuple(box.center))
        owned = dom.mesh.topology.index_map(dom.mesh.topology.dim).size_local
        counts = {name: comm.allreduce(int(np.count_nonzero(dom.cell_tags.find(tag) < owned)), op=MPI.SUM)
                  for name, tag in dom.cells.items()}
        logger.info("air: mesh of %d cells (%s)", dom.num_cells(),
                    ", ".join(f"{n} {k}" for n, k in counts.items()))
    return dom

