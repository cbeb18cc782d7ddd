"""The square ring ("torus", Figs. 12-15): a closed square loop with a square cross-section.

The loop's centreline is the square with corners (0,0), (L,0), (L,L), (0,L); the
cross-section is W x W (2D: a square annulus of width W; 3D: a square tube, z in
[-W/2, W/2]). It is closed by topology: no ends, no periodic constraints. Cells are
tagged per side (`side_0`..`side_3`, counter-clockwise from the bottom) and per
corner (`corner_0`..`corner_3`, the W x W blocks); all exterior facets are `wall`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import numpy as np

from fem_spin._backend import MPI
from fem_spin._checks import require_positive
from fem_spin.geometry.mesh import Domain, GradedGeometry, _graded_size_field, mesh_model

RING_CELLS = {**{f"side_{i}": 1 + i for i in range(4)}, **{f"corner_{i}": 5 + i for i in range(4)}}
RING_FACETS = {"wall": 1}


@dataclass(frozen=True, kw_only=True)
class RingGeometry(GradedGeometry):
    """Square ring of side L (centreline) and cross-section W < L, graded to h_corner at the
    four corners."""

    dim: int = 2
    side: float = 100.0
    h_corner: float = 0.2
    zones: ClassVar[int] = 4

    def __post_init__(self) -> None:
        if self.dim not in (2, 3):
            raise ValueError(f"geometry.dim must be 2 or 3 for a ring, got {self.dim!r}")
        require_positive(self, "ring", ("side", "width", "h_corner", "h_far"),
                         optional=("refine_distance",))
        if self.width >= self.side:
            raise ValueError(f"geometry.width_nm = {self.width!r} must be smaller than the ring side "
                             f"length_nm = {self.side!r}")

    @property
    def h_fine(self) -> float:
        return self.h_corner

    @property
    def extent(self) -> float:
        return 4 * self.side


def _blocks(L: float, W: float) -> dict[str, tuple[float, float, float, float]]:
    """(x0, y0, dx, dy) of the 4 corner blocks and the 4 side blocks."""
    h = W / 2
    corners = [(0, 0), (L, 0), (L, L), (0, L)]
    blocks = {f"corner_{i}": (cx - h, cy - h, W, W) for i, (cx, cy) in enumerate(corners)}
    blocks["side_0"] = (h, -h, L - W, W)
    blocks["side_1"] = (L - h, h, W, L - W)
    blocks["side_2"] = (h, L - h, L - W, W)
    blocks["side_3"] = (-h, h, W, L - W)
    return blocks


def add_ring_model(gmsh, geo: RingGeometry) -> None:
    L, W, d = geo.side, geo.width, geo.dim
    gmsh.model.add("ring")
    occ = gmsh.model.occ
    tags = {}
    for name, (x0, y0, dx, dy) in _blocks(L, W).items():
        tags[name] = (occ.addRectangle(x0, y0, 0, dx, dy) if d == 2
                      else occ.addBox(x0, y0, -W / 2, dx, dy, W))
    occ.fragment([(d, t) for t in tags.values()], [])
    occ.synchronize()
    centres = {name: (x0 + dx / 2, y0 + dy / 2) for name, (x0, y0, dx, dy) in _blocks(L, W).items()}
    ents = gmsh.model.getEntities(d)
    for name, (cx, cy) in centres.items():
        found = [t for _, t in ents
                 if np.hypot(*(np.array(occ.getCenterOfMass(d, t)[:2]) - (cx, cy))) < 1e-6 * L]
        gmsh.model.addPhysicalGroup(d, found, RING_CELLS[name], name=name)
    boundary = gmsh.model.getBoundary([(d, t) for _, t in ents], combined=True, oriented=False)
    gmsh.model.addPhysicalGroup(d - 1, [t for _, t in boundary], RING_FACETS["wall"], name="wall")
    corner_facets = gmsh.model.getBoundary(
        [(d, t) for _, t in ents
         if any(np.hypot(*(np.array(occ.getCenterOfMass(d, t)[:2]) - centres[f"corner_{i}"]))
                < 1e-6 * L for i in range(4))], combined=False, oriented=False)
    _graded_size_field(gmsh, d - 1, sorted({abs(t) for _, t in corner_facets}), geo.h_corner,
                       geo.h_far, geo.distance)


def build_ring(geo: RingGeometry, comm: MPI.Comm = MPI.COMM_WORLD, msh_file: Path | None = None
               ) -> Domain | None:
    """Mesh the ring: graded to h_corner at the corners, h_far along the sides."""
    dom = mesh_model(comm, lambda g: add_ring_model(g, geo), gdim=geo.dim, msh_file=msh_file)
    if dom is not None:
        dom.info.update(kind="ring", dim=geo.dim, side=geo.side, width=geo.width)
    return dom


def local_frame(x: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For points x (3, N): which side (0..3) they belong to and the distance to the
    nearest corner bisector (the diagonal planes that separate the sides)."""
    px, py = x[0] - side / 2, x[1] - side / 2
    horizontal = np.abs(py) >= np.abs(px)
    which = np.where(horizontal, np.where(py < 0, 0, 2), np.where(px > 0, 1, 3))
    dist = np.abs(np.abs(px) - np.abs(py)) / math.sqrt(2)
    return which, dist, horizontal


# Unit tangent (current direction) and outward in-plane normal of each side.
TANGENTS = np.array([[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], dtype=float)
NORMALS = np.array([[0, -1, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0]], dtype=float)
EZ = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class RingMagnetization:
    """Fig. 12: M in the plane normal to the local current, turned 90 degrees per side.

    On side i, u = cos(i 90deg) e_z + sin(i 90deg) n_i (n_i the outward normal in the
    loop's plane): z, n_1, -z, -n_3, closing after four sides. |M| dips to zero on the
    corner bisectors, mu = tanh(d/w), so M is continuous.
    """

    side: float = 100.0
    width: float = 0.6

    def direction(self, which: np.ndarray) -> np.ndarray:
        phi = which * (math.pi / 2)
        return np.cos(phi)[None, :] * EZ[:, None] + np.sin(phi)[None, :] * NORMALS[which].T

    def __call__(self, x: np.ndarray) -> np.ndarray:
        which, dist, _ = local_frame(x, self.side)
        return np.tanh(dist / self.width) * self.direction(which)


def centreline(side: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n points on the loop's centreline (start at corner 0, counter-clockwise) and their
    arc length s in [0, 4L]."""
    s = np.linspace(0.0, 4 * side, n)
    corners = np.array([[0, 0, 0], [side, 0, 0], [side, side, 0], [0, side, 0], [0, 0, 0]], float)
    k = np.minimum((s // side).astype(int), 3)
    t = (s - k * side) / side
    pts = corners[k] + t[:, None] * (corners[k + 1] - corners[k])
    return s, pts


def equilibrium_along_loop(side: float, n: int, width: float = 0.6) -> np.ndarray:
    """m_eq = M/M0 of the Fig. 12 profile at the n centreline points of `centreline`, (n, 3)."""
    return RingMagnetization(side=side, width=width)(centreline(side, n)[1].T).T


def ring_components(values: np.ndarray, s: np.ndarray, side: float) -> np.ndarray:
    """Global (x, y, z) components -> local (tangent, outward normal, z) along the loop."""
    k = np.minimum((s // side).astype(int), 3)
    return np.column_stack([np.einsum("ij,ij->i", values, TANGENTS[k]),
                            np.einsum("ij,ij->i", values, NORMALS[k]), values[:, 2]])
