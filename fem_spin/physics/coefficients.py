"""Cell-wise coefficients of the spin-diffusion equation: regions, materials, magnetization, field.

A device is a set of regions (cell groups), each with its own `Material`, magnetization
(or none: a normal metal), applied field B and optional component-wise constants (Eqs. 66,
72-73). In one time unit t0 and lengths in nm the steady equation reads

    -div(K A^-1 grad m) + R (m - m_eq) + omega x m = 0,
    K = t0 D 1e18 [nm^2],  R = t0/tau_sf,  omega = -t0 (omega0 mu u + gamma B),
    A = I + S [alpha]x,  alpha = -(a0 mu u + (a0/omega0) gamma B),  S = diag(tau_k/tau_sf) (or I),

which for a single material with t0 = tau_sf is the paper's scaled form (K = l_sf^2, R = 1).
Multiplying by one t0 everywhere (not by each region's tau_sf) keeps the normal spin current
D A^-1 grad m continuous across regions. Values that are the same in every region are
Constants, so a one-material problem compiles the same kernel as before.

MODEL.md, "The sign of the sd exchange": the coupling is ferromagnetic, so the conduction
moments precess about +u the way the local moments precess about a field along +u, and about B
in the same sense as the moments (du/dt = -gamma u x B): omega = -(omega0 mu u + gamma B) and
alpha = (a0/omega0) omega (tau = a0/omega0, which is tau_sf in the paper's preset). The sign is
pinned to physics: the accumulation turns counter-clockwise about +u (tests/test_transient.py),
a wall moves along the electron flow with xi = +1/(omega0 tau_sf) > 0 (tests/test_spin_transfer.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from fem_spin._backend import dolfinx, ufl
from fem_spin.io.case import InputError
from fem_spin.physics.material import Material

GAMMA = 1.760859e11  # electron gyromagnetic ratio [rad/(s T)]
MUB_OVER_E = 9.2740100783e-24 / 1.602176634e-19  # muB/e = 5.7884e-5 m^2/s
NM2_PER_M2 = 1e18


@dataclass(frozen=True, kw_only=True)
class Region:
    """The physics of one cell group.

    Attributes:
        material: spin-transport constants.
        magnetization: callable x (3, N) -> M/M0 (3, N), or None for a normal metal or spacer
            (mu = 0: isotropic D, no exchange precession).
        B: applied field [T].
        D_components: D^k per lab-frame component [m^2/s] (Eq. 72), or None (isotropic D).
        tau_components: tau_k per lab-frame component [s] (Eqs. 66, 73), or None (tau_sf).
        m_eq: "zero" or "magnetization" (m_eq = M/M0, as in the paper's ring).
        polarization: current polarization P (charge-current drive; 0 in normal metals).
        sigma: conductivity [S/m] (solved charge current).
        Ms: saturation magnetization [A/m] (for the equivalent field B_sd of a magnet).
        theta_SH: spin Hall angle (charge-current drive; > 0 for Pt, < 0 for Ta and W in
            fem_spin's convention, which is BORIS's: docs/conventions.md).
    """

    material: Material
    magnetization: Callable | None = None
    B: tuple[float, float, float] = (0.0, 0.0, 0.0)
    D_components: tuple[float, float, float] | None = None
    tau_components: tuple[float, float, float] | None = None
    m_eq: str = "zero"
    polarization: float = 0.0
    sigma: float | None = None
    Ms: float | None = None
    theta_SH: float = 0.0

    def __post_init__(self) -> None:
        if self.m_eq not in ("zero", "magnetization"):
            raise ValueError(f"m_eq must be 'zero' or 'magnetization', got {self.m_eq!r}")

    @property
    def tau_field(self) -> float:
        """tau in alpha = tau H: a0/omega0 (0 when omega0 = 0: no exchange, no tensor)."""
        m = self.material
        return m.a0 / m.omega0 if m.omega0 else 0.0


def _cellwise(mesh, values: list[tuple[np.ndarray | None, object]], shape: tuple[int, ...] = ()):
    """A Constant if every region has the same value, else a DG0 Function (per-cell values)."""
    arrays = [np.broadcast_to(np.asarray(v, dtype=float), shape) for _, v in values]
    if all(np.array_equal(arrays[0], a) for a in arrays[1:]):
        return dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(arrays[0]))
    W = dolfinx.fem.functionspace(mesh, ("DG", 0, shape) if shape else ("DG", 0))
    f = dolfinx.fem.Function(W)
    bs = int(np.prod(shape)) if shape else 1
    for (cells, _), a in zip(values, arrays):
        flat = a.reshape(bs, 1)
        f.interpolate(lambda x, flat=flat: np.repeat(flat, x.shape[1], axis=1), cells0=cells)
    f.x.scatter_forward()
    return f


def _check_scaled(regions: list[tuple[np.ndarray | None, Region]], t0: float) -> None:
    """The coefficients in the solver's units (t0, nm) must be finite numbers: an input that
    overflows them (a tau of 1e-320 s, say) is an input error naming the key, not an overflow
    warning and inf in the matrix (issue 22). The same on every rank (same regions)."""
    with np.errstate(all="ignore"):
        for _, r in regions:
            m = r.material
            terms = {"D_m2_per_s": (m.D, t0 * NM2_PER_M2 * m.D), "tau_sf_s": (m.tau_sf, t0 / m.tau_sf),
                     "omega0_per_s": (m.omega0, m.omega0 * t0), "a0": (m.a0, m.a0 * m.omega0 * t0)}
            if r.D_components is not None:
                terms["D_components_m2_per_s"] = (list(r.D_components),
                                                  t0 * NM2_PER_M2 * np.asarray(r.D_components))
            if r.tau_components is not None:
                terms["tau_components_s"] = (list(r.tau_components), t0 / np.asarray(r.tau_components))
            for key, (value, scaled) in terms.items():
                if not np.all(np.isfinite(scaled)) or np.any(np.abs(scaled) > 1e150):
                    raise InputError(f"{key} = {value!r} is out of range: with the time unit "
                                     f"t0 = {t0:.3g} s (the shortest tau_sf) it overflows the "
                                     "solver's numbers")


class Coefficients:
    """UFL coefficients (alpha, omega, K, R, S, m_eq) of a set of regions on one mesh.

    Args:
        mesh: the mesh.
        degree: polynomial degree of the magnetization field (that of m).
        regions: (cells, Region) pairs; cells None means every cell. Together they cover the
            mesh (cells of the local process, ghosts included).
        t0: time unit [s]; default the smallest tau_sf.
    """

    def __init__(self, mesh, degree: int, regions: list[tuple[np.ndarray | None, Region]],
                 t0: float | None = None):
        self.mesh = mesh
        self.regions = regions
        self.t0 = t0 if t0 is not None else min(r.material.tau_sf for _, r in regions)
        t0 = self.t0
        _check_scaled(regions, t0)
        # M/M0 per cell (discontinuous: it may jump between regions), 0 in normal metals.
        W = dolfinx.fem.functionspace(mesh, ("DG", degree, (3,)))
        self.M = dolfinx.fem.Function(W, name="M")
        # A source may refuse some points (outside an OVF grid) on one rank only: agree first.
        error = None
        try:
            for cells, r in regions:
                if r.magnetization is not None:
                    self.M.interpolate(r.magnetization, cells0=cells)
        except InputError as exc:
            error = str(exc)
        error = next((e for e in mesh.comm.allgather(error) if e), None)
        if error:
            raise InputError(error)
        if not np.all(np.isfinite(self.M.x.array)):
            raise InputError("the magnetization has NaN or inf values at mesh points")
        self.M.x.scatter_forward()
        mats = [(c, r.material) for c, r in regions]
        self.a0 = _cellwise(mesh, [(c, m.a0) for c, m in mats])
        self.w0 = _cellwise(mesh, [(c, m.omega0 * t0) for c, m in mats])
        self.omega0 = _cellwise(mesh, [(c, m.omega0) for c, m in mats])  # [1/s], for the torque
        self.R = _cellwise(mesh, [(c, t0 / np.asarray(r.tau_components or r.material.tau_sf))
                                  for c, r in regions], (3,) if self._any("tau_components") else ())
        self.K = _cellwise(mesh, [(c, t0 * NM2_PER_M2 * np.asarray(r.D_components or r.material.D))
                                  for c, r in regions], (3,) if self._any("D_components") else ())
        self.S = (_cellwise(mesh, [(c, np.asarray(r.tau_components or (r.material.tau_sf,) * 3)
                                    / r.material.tau_sf) for c, r in regions], (3,))
                  if self._any("tau_components") else None)
        field = any(np.any(r.B) for _, r in regions)
        # ferromagnetic sd exchange: both point along -u (MODEL.md, "The sign of the sd exchange")
        self.alpha = -self.a0 * self.M
        self.omega = -self.w0 * self.M
        if field:
            self.alpha_B = _cellwise(mesh, [(c, -r.tau_field * GAMMA * np.asarray(r.B))
                                            for c, r in regions], (3,))
            self.omega_B = _cellwise(mesh, [(c, -t0 * GAMMA * np.asarray(r.B)) for c, r in regions], (3,))
            self.alpha = self.alpha + self.alpha_B
            self.omega = self.omega + self.omega_B
        self.m_eq = None
        if any(r.m_eq == "magnetization" for _, r in regions):
            self.m_eq = dolfinx.fem.Function(W, name="m_eq")
            for cells, r in regions:
                if r.m_eq == "magnetization" and r.magnetization is not None:
                    self.m_eq.interpolate(r.magnetization, cells0=cells)
            self.m_eq.x.scatter_forward()

    def cellwise(self, values: dict) -> object:
        """A Constant or DG0 Function of one number per region (in the order of `regions`)."""
        return _cellwise(self.mesh, [(c, values[id(r)]) for c, r in self.regions])

    def drift(self, j_e) -> ufl.core.expr.Expr | None:
        """The spin current carried by a charge current [A/s for m in A/m], shape (3, gdim):
        S = -P (muB/e) mu u (x) j_e plus the spin Hall part (`spin_hall`); None when no region
        is polarized or has a spin Hall angle. j_e [A/m^2]: a 3-vector (Constant, Function or
        UFL expression), the conventional current. The minus: with e > 0 the electrons, whose
        majority moments lie along M for P > 0, flow along -j_e, and so does the magnetization
        they carry (MODEL.md, "Charge-current drive"; docs/conventions.md). One S for both, so
        the weak form, J in the outputs and the boundary fluxes all include the spin Hall term."""
        S = None
        if any(r.polarization for _, r in self.regions):
            P = self.cellwise({id(r): r.polarization for _, r in self.regions})
            S = -MUB_OVER_E * P * ufl.outer(self.M, j_e)
        hall = self.spin_hall(j_e, full=True)
        if hall is not None:
            S = hall if S is None else S + hall
        if S is None:
            return None
        gdim = self.mesh.geometry.dim
        return ufl.as_matrix([[S[k, j] for j in range(gdim)] for k in range(3)])

    def spin_hall(self, j_e, full: bool = False) -> ufl.core.expr.Expr | None:
        """The spin Hall spin current S^{kj} = -theta_SH (muB/e) eps_{kjl} j_e^l = theta_SH (muB/e)
        [j_e]x^{kj} [A/s], magnetization (moment) flux of spin component k along space direction j;
        shape (3, gdim) (3 x 3 with `full`); None when no region has a spin Hall angle. Across a
        surface with normal n it carries the moment theta_SH (muB/e) j_e x n: for Pt (theta_SH > 0)
        and j_e along +x, moments along -y flow up (+z) and pile up on the top surface (spins,
        opposite to the moments, along +y). The sign is BORIS's (Lepadatu, Sci. Rep. 7, 12937
        (2017): J_S = ... + theta_SHA (muB/e) sigma eps E, flow index first), rewritten with
        fem_spin's spin index first; docs/conventions.md."""
        if not any(r.theta_SH for _, r in self.regions):
            return None
        theta = self.cellwise({id(r): r.theta_SH for _, r in self.regions})
        S = MUB_OVER_E * theta * cross_matrix(j_e)
        if full:
            return S
        gdim = self.mesh.geometry.dim
        return ufl.as_matrix([[S[k, j] for j in range(gdim)] for k in range(3)])

    def sd_field(self, m) -> ufl.core.expr.Expr | None:
        """B_sd = +(omega0/(gamma Ms)) m [T] in magnets (m in A/m), 0 elsewhere; None unless
        every magnet has Ms (MODEL.md, Eq. 79 in SI form: parallel to m, a ferromagnetic sd
        coupling)."""
        magnets = [r for _, r in self.regions if r.magnetization is not None]
        if not magnets or any(r.Ms is None for r in magnets):
            return None
        c = self.cellwise({id(r): (r.material.omega0 / (GAMMA * r.Ms) if r.magnetization is not None
                                   else 0.0) for _, r in self.regions})
        return c * m

    def _any(self, attr: str) -> bool:
        return any(getattr(r, attr) is not None for _, r in self.regions)

    @classmethod
    def uniform(cls, M, material: Material, B=(0.0, 0.0, 0.0)) -> Coefficients:
        """One material everywhere with a given magnetization M/M0 (a Function on the mesh)."""
        V = M.function_space
        coef = cls(V.mesh, V.ufl_element().embedded_superdegree,
                   [(None, Region(material=material, B=tuple(B)))], t0=material.tau_sf)
        coef.M.interpolate(M)  # DG_k interpolation of a P_k function is exact
        coef.M.x.scatter_forward()
        return coef

    @property
    def reference(self) -> Material:
        """The material of the first region (scales for preconditioners that need one)."""
        return self.regions[0][1].material

    def inverse_tensor(self) -> ufl.core.expr.Expr:
        """A^-1 for A = I + S [alpha]x: closed form (Eq. 73) when S = I, else UFL's inverse."""
        a = self.alpha
        if self.S is None:
            eye = ufl.Identity(3)
            return (eye - cross_matrix(a) + ufl.outer(a, a)) / (1 + ufl.dot(a, a))
        return ufl.inv(ufl.Identity(3) + ufl.dot(ufl.diag(self.S), cross_matrix(a)))

    def diffusion(self) -> ufl.core.expr.Expr:
        """Scaled Dt = K A^-1 (Dt^{kp} = (A^-1)^{kp} K^p with component-wise K) [nm^2]."""
        Ainv = self.inverse_tensor()
        if self.K.ufl_shape == ():
            return self.K * Ainv
        return ufl.dot(Ainv, ufl.diag(self.K))

    def relax(self, u) -> ufl.core.expr.Expr:
        """R u (component-wise with tau_k)."""
        return self.R * u if self.R.ufl_shape == () else ufl.elem_mult(self.R, u)

    def torque(self, m) -> ufl.core.expr.Expr:
        """T = -omega0 M/M0 x m [1/s]: the sd torque on M (Eq. 79: -gamma u x B_sd per unit rho),
        equal and opposite to the electrons' +omega0 u x m; the field's part is not one."""
        return -self.omega0 * ufl.cross(self.M, m)


def cross_matrix(a) -> ufl.core.expr.Expr:
    """The matrix [a]x with [a]x v = a x v."""
    return ufl.as_matrix([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])


def regions_of(domain, regions: Mapping[str, Region]) -> list[tuple[np.ndarray, Region]]:
    """(cells, Region) pairs for named cell groups of a Domain (cells local + ghost)."""
    out = []
    for name, region in regions.items():
        if name not in domain.cells:
            raise ValueError(f"region {name!r} is not a cell group of the mesh "
                             f"(it has {', '.join(sorted(domain.cells))})")
        out.append((domain.cell_tags.find(domain.cells[name]).astype(np.int32), region))
    return out


def cellwise_by_name(domain, values: Mapping[str, float]):
    """A Constant or DG0 Function with one value per named cell group of a Domain."""
    cells = {n: domain.cell_tags.find(domain.cells[n]).astype(np.int32) for n in values}
    return _cellwise(domain.mesh, [(cells[n], v) for n, v in values.items()])


def with_ghosts(mesh, cells: np.ndarray | None) -> np.ndarray | None:
    """The owned `cells` plus the ghost cells of the same group (tags hold owned cells only):
    a continuous field interpolated on a group must also see the ghost cells, or a node owned
    here but touched only by another rank's cells of the group keeps no value."""
    if cells is None:
        return None
    W = dolfinx.fem.functionspace(mesh, ("DG", 0))
    flag = dolfinx.fem.Function(W)
    flag.x.array[W.dofmap.list[cells, 0]] = 1.0
    flag.x.scatter_forward()
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    every = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    return every[flag.x.array[W.dofmap.list[every, 0]] > 0]
