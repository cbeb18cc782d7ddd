"""Magnetization profiles M(x)/M0 = mu(x) u(x) as functions of position.

A profile is called with DOLFINx's point array ``x`` of shape (3, N) and returns
M/M0 of shape (3, N). Profiles are interpolated into a finite-element space
(`interpolate`) so the form never sees tanh/cos: UFL's quadrature estimate for
such expressions made a solve 100x slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fem_spin._backend import dolfinx
from fem_spin._checks import require_positive


def _unit(v, key: str) -> np.ndarray:
    a = np.asarray(v, dtype=float).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)) or np.linalg.norm(a) == 0:
        raise ValueError(f"{key} must be a non-zero 3-vector, got {v!r}")
    return a / np.linalg.norm(a)


def rotate_about_x(v: np.ndarray, angle: float) -> np.ndarray:
    """Turn v by `angle` (radians) about the current direction x, z towards +y.

    That is cos(angle) v + sin(angle) (v x e_x) for v normal to x: u_L = z gives
    u_R = (0, sin theta, cos theta), so theta = 90 degrees is u_R = +y.
    """
    c, s = math.cos(angle), math.sin(angle)
    return np.array([v[0], c * v[1] + s * v[2], -s * v[1] + c * v[2]])


def _check_angle(theta_deg: float) -> float:
    if not (isinstance(theta_deg, (int, float)) and 0.0 <= theta_deg <= 180.0):
        raise ValueError(f"magnetization.theta must be an angle in [0, 180] degrees, got {theta_deg!r}")
    return math.radians(theta_deg)


@dataclass(frozen=True)
class Uniform:
    """M = M0 u everywhere (mu = 1)."""

    direction: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        u = _unit(self.direction, "magnetization.direction")
        return np.tile(u[:, None], (1, x.shape[1]))

    def end_directions(self) -> tuple[np.ndarray, np.ndarray]:
        u = _unit(self.direction, "magnetization.direction")
        return u, u


@dataclass(frozen=True)
class Vortex:
    """A vortex about the z axis through `center` [nm]: the in-plane part circulates
    counter-clockwise seen from +z for circulation +1 (clockwise for -1), and the core,
    u_z = polarity exp(-(r/core)^2), has the width `core` [nm] (an initial state: relaxation
    gives the core its own size)."""

    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    circulation: int = 1
    polarity: int = 1
    core: float = 5.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        dx, dy = x[0] - self.center[0], x[1] - self.center[1]
        r = np.hypot(dx, dy)
        mz = self.polarity * np.exp(-(r / self.core) ** 2)
        inplane = np.sqrt(np.clip(1.0 - mz ** 2, 0.0, 1.0)) * self.circulation / np.where(r > 0, r, 1.0)
        return np.stack([-dy * inplane, dx * inplane, mz])


@dataclass(frozen=True)
class Interface:
    """The paper's spacer profile (Fig. 5): mu = tanh(|x|/w) dips to 0 at x = 0.

    The direction is u_L = u_left for x < 0 and u_R = u_left turned by theta about
    the current direction x (see `rotate_about_x`) for x > 0; the jump sits where mu = 0, so M itself is
    continuous.

    Attributes:
        theta: angle between u_L and u_R [degrees, 0..180].
        width: w, the width of the dip [nm] (the paper's "lda").
        u_left: u_L, in the yz-plane.
    """

    theta: float = 90.0
    width: float = 0.6
    u_left: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        _check_angle(self.theta)
        require_positive(self, "magnetization", ("width",))
        _unit(self.u_left, "magnetization.u_left")

    def end_directions(self) -> tuple[np.ndarray, np.ndarray]:
        u_l = _unit(self.u_left, "magnetization.u_left")
        return u_l, rotate_about_x(u_l, math.radians(self.theta))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        u_l, u_r = self.end_directions()
        mu = np.tanh(np.abs(x[0]) / self.width)
        u = np.where(x[0] < 0, u_l[:, None], u_r[:, None])
        return mu * u


@dataclass(frozen=True)
class RotatingWall:
    """A domain wall: |M| = M0, direction rotating by theta about x across width w.

    The angle is phi(x) = theta (1 + tanh(x/w)) / 2; with `dip` the magnitude also
    dips as in `Interface` (mu = tanh(|x|/w)), giving M that is smooth in x.
    """

    theta: float = 90.0
    width: float = 2.0
    u_left: tuple[float, float, float] = (0.0, 0.0, 1.0)
    dip: bool = False

    def __post_init__(self) -> None:
        _check_angle(self.theta)
        require_positive(self, "magnetization", ("width",))

    def end_directions(self) -> tuple[np.ndarray, np.ndarray]:
        u_l = _unit(self.u_left, "magnetization.u_left")
        return u_l, rotate_about_x(u_l, math.radians(self.theta))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        u_l = _unit(self.u_left, "magnetization.u_left")
        phi = math.radians(self.theta) * 0.5 * (1 + np.tanh(x[0] / self.width))
        c, s = np.cos(phi), np.sin(phi)
        u = np.vstack([np.full_like(phi, u_l[0]), c * u_l[1] + s * u_l[2], -s * u_l[1] + c * u_l[2]])
        mu = np.tanh(np.abs(x[0]) / self.width) if self.dip else 1.0
        return mu * u


def interpolate(profile, V: dolfinx.fem.FunctionSpace, name: str = "M") -> dolfinx.fem.Function:
    """Interpolate M/M0 of a profile into the 3-vector space V."""
    f = dolfinx.fem.Function(V, name=name)
    f.interpolate(profile)
    f.x.scatter_forward()
    return f


@dataclass
class VTKMagnetization:
    """M/M0 from a 3-vector point or cell array of a VTK file (.vtu, .vtk, ...: ParaView's or
    another finite-element code's output), probed at mesh points with VTK's linear
    interpolation (cell data: the containing cell's value).

    Values are divided by the largest |value| (zero vectors: no magnet, mu = 0). A mesh point
    outside the file's mesh is an error unless `outside` is "zero" or "nearest".

    Attributes:
        path: the VTK file.
        field: array name (None: the only 3-component array).
        offset_nm: where the file's origin lies on the mesh [nm].
        unit_nm: the file's length unit in nm.
        outside: "error", "zero" or "nearest".
    """

    path: str
    field: str | None = None
    offset_nm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    unit_nm: float = 1.0
    outside: str = "error"

    def __post_init__(self) -> None:
        from fem_spin.io.ovf import OVFError

        import pyvista as pv

        try:
            grid = pv.read(self.path)
        except Exception as exc:  # noqa: BLE001 - VTK's readers raise many kinds
            raise OVFError(f"VTK file {self.path!r} cannot be read: {exc}") from None
        if isinstance(grid, pv.MultiBlock):
            grid = grid.combine()
        arrays = {**{k: grid.point_data[k] for k in grid.point_data},
                  **{k: grid.cell_data[k] for k in grid.cell_data}}
        vectors = [k for k, a in arrays.items() if np.ndim(a) == 2 and np.shape(a)[1] == 3]
        if self.field is None and len(vectors) != 1:
            raise OVFError(f"VTK file {self.path!r}: {len(vectors)} 3-vector arrays "
                           f"({', '.join(vectors) or 'none'}); name one with field = \"...\"")
        name = self.field or vectors[0]
        if name not in vectors:
            raise OVFError(f"VTK file {self.path!r}: no 3-vector array {name!r} (it has "
                           f"{', '.join(vectors) or 'none'})")
        self._grid, self._name = grid, name
        self._norm = float(np.max(np.linalg.norm(np.asarray(arrays[name]), axis=1)))
        if not self._norm > 0:
            raise OVFError(f"VTK file {self.path!r}: array {name!r} is zero everywhere")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import pyvista as pv

        from fem_spin.io.ovf import OVFError

        pts = (x.T - np.asarray(self.offset_nm)) / self.unit_nm
        probe = pv.PolyData(pts).sample(self._grid)
        values = np.asarray(probe.point_data[self._name], dtype=float).reshape(-1, 3)
        valid = np.asarray(probe.point_data["vtkValidPointMask"]).astype(bool)
        if not np.all(valid) and self.outside == "nearest":  # the closest cell's (mean) value
            cells = self._grid if self._name in self._grid.cell_data else \
                self._grid.point_data_to_cell_data()
            nearest = self._grid.find_closest_cell(pts[~valid])
            values[~valid] = np.asarray(cells.cell_data[self._name])[nearest]
            valid[:] = True
        if not np.all(valid) and self.outside == "error":
            bad = pts[~valid][0] * self.unit_nm + np.asarray(self.offset_nm)
            raise OVFError(f"VTK file {self.path!r}: {np.count_nonzero(~valid)} mesh points lie outside "
                           f"its mesh, e.g. ({bad[0]:.4g}, {bad[1]:.4g}, {bad[2]:.4g}) nm; move it with "
                           "offset_nm or set outside = \"zero\" or \"nearest\"")
        values[~valid] = 0.0
        return (values / self._norm).T
