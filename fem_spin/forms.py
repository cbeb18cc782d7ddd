"""The variational form of the tensor spin-diffusion equation (MODEL.md, Eq. 75).

In nm and units of tau_sf (see `fem_spin.material`) the weak form reads: find m
in V^3 with

    (l^2 A^-1 grad m, grad v) + (m, v) + (beta M x m, v) [+ (m - m_old, v)/dt, theta scheme]
        = (m_eq, v) + (f, v) [+ 0 on Neumann boundaries],

with A^-1 = (I - [alpha]x + alpha alpha^T)/(1 + |alpha|^2) and alpha = a0 M/M0.
The quadrature degree is fixed (UFL's estimate for the rational tensor would be
needlessly high).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._backend import dolfinx, ufl
from .material import Material


def cross_matrix(a) -> ufl.core.expr.Expr:
    """The matrix [a]x with [a]x v = a x v."""
    return ufl.as_matrix([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])


def inverse_tensor(alpha) -> ufl.core.expr.Expr:
    """A^-1 for A = I + [alpha]x, in closed form (Eq. 73)."""
    eye = ufl.Identity(3)
    return (eye - cross_matrix(alpha) + ufl.outer(alpha, alpha)) / (1 + ufl.dot(alpha, alpha))


def default_quadrature_degree(degree: int) -> int:
    """Exact for the mass and precession terms with a P_k magnetization."""
    return 2 * degree + 1


@dataclass
class SpinForm:
    """UFL forms of the steady (or one backward-Euler step of the transient) problem.

    Attributes:
        V: 3-vector Lagrange space of m.
        M: M/M0 as a Function (or UFL expression) with 3 components.
        material: the physical parameters.
        m_eq: equilibrium accumulation (None: zero, as in the slab).
        source: extra body source f (manufactured solutions).
        dt: time step in units of tau_sf (None: steady).
        m_old: previous time level (needed with dt).
        theta: 1 backward Euler (order 1), 0.5 Crank-Nicolson (order 2).
        quadrature_degree: None picks `default_quadrature_degree`.
    """

    V: dolfinx.fem.FunctionSpace
    M: object
    material: Material
    m_eq: object = None
    source: object = None
    dt: object = None
    m_old: object = None
    theta: float = 1.0
    quadrature_degree: int | None = None

    def __post_init__(self) -> None:
        degree = self.V.ufl_element().embedded_superdegree
        if self.quadrature_degree is None:
            self.quadrature_degree = default_quadrature_degree(degree)
        self.dx = ufl.Measure("dx", domain=self.V.mesh,
                              metadata={"quadrature_degree": self.quadrature_degree})
        mat = self.material
        self.alpha = mat.a0 * self.M
        self.omega = mat.beta * self.M  # precession vector times tau_sf
        self.Ainv = inverse_tensor(self.alpha)
        self.l2 = dolfinx.fem.Constant(self.V.mesh, dolfinx.default_scalar_type(mat.l_sf_nm**2))

    def flux(self, m) -> ufl.core.expr.Expr:
        """Scaled spin current l^2 A^-1 grad m (shape 3 x gdim); J = -D/l^2 * 1e9 of it in m/s."""
        return self.l2 * ufl.dot(self.Ainv, ufl.grad(m))

    def operator(self, u, v) -> ufl.Form:
        """The steady operator: (l^2 A^-1 grad u, grad v) + (u, v) + (omega x u, v)."""
        return (ufl.inner(self.flux(u), ufl.grad(v)) + ufl.inner(u, v)
                + ufl.inner(ufl.cross(self.omega, u), v)) * self.dx

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
        f = zero if self.m_eq is None else self.m_eq
        if self.source is not None:
            f = f + self.source
        rhs = ufl.inner(f, v) * self.dx
        if self.dt is not None:
            rhs += ufl.inner(self.m_old, v) / self.dt * self.dx
            if self.theta != 1.0:
                rhs -= (1 - self.theta) * self.operator(self.m_old, v)
        return rhs
