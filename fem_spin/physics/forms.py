"""The variational form of the tensor spin-diffusion equation (MODEL.md, Eq. 75).

In nm and units of a time t0 (see `fem_spin.physics.coefficients`) the weak form reads: find m in
V^3 with

    (K A^-1 grad m, grad v) + (R m, v) + (omega x m, v) [+ (m - m_old, v)/dt, theta scheme]
        = (R m_eq, v) + (f, v) + t0 1e9 (S, grad v) - t0 1e9 <j_n, v>_Neumann,

with A^-1 = (I - [alpha]x + alpha alpha^T)/(1 + |alpha|^2), S = -P (muB/e) mu u (x) j_e +
theta_SH (muB/e) [j_e]x the spin current carried by a charge current (drift and spin Hall, if
any; `Coefficients.drift`), and j_n = J.n the given outward normal total spin
current on Neumann boundaries (zero elsewhere). The quadrature degree is
fixed (UFL's estimate for the rational tensor would be needlessly high).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fem_spin._backend import dolfinx, ufl
from fem_spin.physics.coefficients import Coefficients

NM_PER_M = 1e9


def default_quadrature_degree(degree: int) -> int:
    """Exact for the mass and precession terms with a P_k magnetization."""
    return 2 * degree + 1


def diffusion_quadrature_degree(degree: int) -> int:
    """The diffusion term (K A^-1 grad u, grad v): grad u . grad v has degree 2k - 2, exact at
    2k - 1 for a tensor linear in a cell. Degree 5 (14 points on a tetrahedron) for it made it
    70% of the assembly time of the P2 operator; degree 3 (6 points) halves that, and the
    solution moves by far less than its discretisation error (docs/benchmark.md)."""
    return max(2 * degree - 1, 2)


@dataclass
class SpinForm:
    """UFL forms of the steady (or one theta-scheme step of the transient) problem.

    Attributes:
        V: 3-vector Lagrange space of m.
        coef: the cell-wise coefficients (regions, materials, magnetization, field).
        m_eq: equilibrium accumulation (None: the coefficients' own, zero unless a region
            relaxes to its magnetization).
        source: extra body source f (manufactured solutions).
        dt: time step in units of coef.t0 (None: steady).
        m_old: previous time level (needed with dt).
        theta: 1 backward Euler (order 1), 0.5 Crank-Nicolson (order 2).
        quadrature_degree: None picks `default_quadrature_degree` for the reaction, source and
            mass terms and `diffusion_quadrature_degree` for the diffusion term; a number sets both.
        neumann: (ds measure restricted to a boundary, j_n 3-vector [m/s]) pairs.
        drift: S, the spin current carried by a charge current (`Coefficients.drift`), or None.
    """

    V: dolfinx.fem.FunctionSpace
    coef: Coefficients
    m_eq: object = None
    source: object = None
    dt: object = None
    m_old: object = None
    theta: float = 1.0
    quadrature_degree: int | None = None
    neumann: list = field(default_factory=list)
    drift: object = None

    def __post_init__(self) -> None:
        degree = self.V.ufl_element().embedded_superdegree
        q_diffusion = self.quadrature_degree
        if self.quadrature_degree is None:
            self.quadrature_degree = default_quadrature_degree(degree)
            q_diffusion = diffusion_quadrature_degree(degree)
        self.diffusion_quadrature_degree = q_diffusion
        self.dx = ufl.Measure("dx", domain=self.V.mesh,
                              metadata={"quadrature_degree": self.quadrature_degree})
        self.dx_diffusion = ufl.Measure("dx", domain=self.V.mesh, metadata={"quadrature_degree": q_diffusion})
        if self.m_eq is None:
            self.m_eq = self.coef.m_eq
        self.alpha = self.coef.alpha
        self.omega = self.coef.omega  # precession vector times t0
        self.Dt = self.coef.diffusion()

    def flux(self, m) -> ufl.core.expr.Expr:
        """Scaled spin current Dt grad m (shape 3 x gdim) [nm]; J = -1e-9/t0 of it in m/s."""
        return ufl.dot(self.Dt, ufl.grad(m))

    def spin_current(self, m) -> ufl.core.expr.Expr:
        """J^{kj} = -Dt^{kp} d_j m^p [+ S^{kj}, the drift] in m/s per unit m (A/s for m in A/m)."""
        J = -(1.0 / (NM_PER_M * self.coef.t0)) * self.flux(m)
        return J if self.drift is None else J + self.drift

    def reaction(self, u, v, dx) -> ufl.Form:
        """(R u, v) + (omega x u, v) with the measure dx (also used by the p-multigrid)."""
        return (ufl.inner(self.coef.relax(u), v) + ufl.inner(ufl.cross(self.omega, u), v)) * dx

    def operator(self, u, v) -> ufl.Form:
        """The steady operator: (K A^-1 grad u, grad v) + (R u, v) + (omega x u, v)."""
        return ufl.inner(self.flux(u), ufl.grad(v)) * self.dx_diffusion + self.reaction(u, v, self.dx)

    def bilinear(self) -> ufl.Form:
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        a = self.operator(u, v)
        if self.dt is not None:  # theta scheme: (u, v)/dt + theta L(u, v)
            a = ufl.inner(u, v) / self.dt * self.dx + self.theta * a
        return a

    def linear(self) -> ufl.Form:
        v = ufl.TestFunction(self.V)
        # A Constant, not ufl zero: UFL would drop the form and lose its argument.
        zero = dolfinx.fem.Constant(self.V.mesh, dolfinx.default_scalar_type((0.0, 0.0, 0.0)))
        f = zero if self.m_eq is None else self.coef.relax(self.m_eq)
        if self.source is not None:
            f = f + self.source
        rhs = ufl.inner(f, v) * self.dx
        if self.drift is not None:  # div S moved to the right: (S, grad v), t0 and nm scaled
            rhs += NM_PER_M * self.coef.t0 * ufl.inner(self.drift, ufl.grad(v)) * self.dx
        for ds, j_n in self.neumann:
            value = dolfinx.fem.Constant(self.V.mesh, dolfinx.default_scalar_type(tuple(j_n)))
            rhs -= NM_PER_M * self.coef.t0 * ufl.inner(value, v) * ds
        if self.dt is not None:
            rhs += ufl.inner(self.m_old, v) / self.dt * self.dx
            if self.theta != 1.0:
                rhs -= (1 - self.theta) * self.operator(self.m_old, v)
        return rhs
