"""Magnetization dynamics: the Landau-Lifshitz-Gilbert equation of Eq. 79 (MODEL.md).

For the unit direction u in the magnets (mu = 1 there),

    du/dt = -gamma u x B_eff + alpha_G u x du/dt,
    B_eff = (2 A_ex/Ms) lap u + (2 K_u/Ms)(u.e_K) e_K + B + B_sd,

with zero normal derivative of u on every boundary. Two schemes, both in the tangent plane
(Alouges 2008, as in magnum.fe), with lumped (nodal) products so that the constraint and |u| = 1
hold node by node: find the velocity v, v(z).a(z) = 0 at every node z, with

    alpha_G (v, phi)_h + (a x v, phi)_h/|a|^2 + theta k c_ex (grad v, grad phi)
        = -c_ex (grad u^n, grad phi) + gamma (B_K(a) + B + B_sd* + ..., phi)_h,    c_ex = gamma 2 A_ex/Ms,

for every phi in that tangent space, then u^{n+1} = u^n + k v.

- order = 2, the implicit midpoint rule (d'Aquino, Serpico & Miano, J. Comput.
  Phys. 209, 730 (2005); Bartels & Prohl 2006): a = (u^n + u^{n+1})/2 = u^n + k v/2 and theta =
  1/2, so that the exchange and anisotropy act at the midpoint, the demag is solved at a (with
  demag_every = 1) and B_sd is extrapolated to t_n + k/2 from this step and the last. Because v
  is tangent to the
  midpoint, |u^{n+1}| = |u^n| at every node, and testing with phi = v gives the discrete energy
  law E^{n+1} - E^n = -k alpha_G gamma^-1 ||v||^2 (Ms-weighted): no damping of its own, the energy
  conserved at alpha_G = 0 (to round-off with exchange, anisotropy and static fields; to second
  order with the extrapolated ones) and no growth of any mode, the stiff exchange modes included,
  whatever k. a depends on v: a fixed-point iteration (each iterate one linear solve, the
  tangent basis of the last a) from the velocity extrapolated from the last two steps; its
  distance from the new one is the embedded error estimate of adaptive steps.
- order = 1 (the default), the theta scheme with a = u^n (theta = 1: exchange unconditionally stable,
  anisotropy and fields explicit) and a renormalisation u^{n+1}/|u^{n+1}|; relaxation uses it.
  Its explicit field adds k|omega|/2 of negative damping to a precession: not for dynamics.

The tangent space is a 2-dimensional basis per node (matrix Q, 3N x 2N over the moving nodes;
held nodes are not unknowns), the reduced system Q^T A Q is solved by GMRES + ILU(0) (or MUMPS).

Lengths in nm (c_ex carries 1e18), times in seconds, fields in tesla. u is P1 on the whole mesh;
nodes outside the magnets (and in regions that do not move) are held fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fem_spin._backend import MPI, PETSc, dolfinx, ufl
from fem_spin.physics.coefficients import GAMMA, _cellwise, with_ghosts
from fem_spin.physics.groups import GroupInterpolation
from fem_spin.progress import logger
from fem_spin.solvers.linear import CSRAssembly, SolverError

NM2_PER_M2 = 1e18
# The midpoint's fixed point is taken as converged when an iteration moves u by less than this
# at every node (a few iterations a step; tests/test_time_scheme.py measures what it leaves).
MIDPOINT_TOL = 1e-10
MIDPOINT_MAX_IT = 30
MIDPOINT_NOISE = 1e-5  # a stalled iteration below this is converged to its solves' accuracy


class StepNotConverged(SolverError):
    """The midpoint's fixed point did not converge (an adaptive step takes it as a rejection;
    a fixed one ends the run with this message on every rank: the test is collective)."""


@dataclass(frozen=True, kw_only=True)
class MagnetParams:
    """Micromagnetic constants of one region (SI).

    Attributes:
        Ms: saturation magnetization [A/m].
        A_ex: exchange stiffness [J/m].
        K_u: uniaxial anisotropy [J/m^3], axis K_axis.
        K2: a second uniaxial term [J/m^3] along K2_axis, energy -K2 (u.e2)^2: K2 < 0 makes
            K2_axis a hard axis (a thin strip's shape anisotropy, which fixes a wall's plane).
        alpha_G: Gilbert damping.
        dynamic: False holds u fixed (a pinned or reference layer).
    """

    Ms: float
    A_ex: float = 0.0
    K_u: float = 0.0
    K_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    K2: float = 0.0
    K2_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    alpha_G: float = 0.01
    dynamic: bool = True

    def __post_init__(self) -> None:
        if not self.Ms > 0:
            raise ValueError(f"Ms must be > 0 A/m, got {self.Ms!r}")
        if self.A_ex < 0 or self.alpha_G < 0:
            raise ValueError(f"A_ex and alpha_G must be >= 0, got {self.A_ex!r}, {self.alpha_G!r}")
        if np.linalg.norm(self.K_axis) == 0 or np.linalg.norm(self.K2_axis) == 0:
            raise ValueError("K_axis and K2_axis must be non-zero vectors")


class LLG:
    """The tangent-plane integrator of the LLG equation on a mesh's magnets.

    Args:
        mesh: the mesh (nm).
        magnets: (cells, MagnetParams, u0) triples; cells None for every cell; u0 a callable
            x -> (3, N) giving the initial direction (normalised at the nodes; a node where it
            is zero has no magnet and is held). Fixed magnets are set first, so a node shared
            with a moving magnet starts with the moving one's direction.
        B: applied field [T] (uniform).
        theta: 1/2 .. 1, the implicitness of the exchange term.
        demag: None, or a callable u -> B_d (a P1 Function on this U, tesla) giving the
            demagnetizing field of u (fem_spin.physics.device_fields.DeviceDemag), evaluated
            explicitly at the start of every step (and for the energies).
        B_static: None, or a P1 Function on U [T] added to the field (the Oersted field).
        precession: False drops u x v (relaxation: alpha_G v = gamma P_T B_eff, steepest
            descent of the energy at the rate gamma/alpha_G).
        order: 1 (the theta scheme; relaxation always takes it) or 2 (the implicit midpoint
            rule).
        demag_every: solve the demagnetizing field at every this many steps of a precessing
            stage (relaxation solves it at every step); the steps between take it extrapolated
            in time (`_extrapolated_demag`). 1: at every step.
        solver: "iterative" (GMRES + block Jacobi/ILU(0) on the reduced system, from the last
            step's velocity: alpha_G M + skew + k c_ex K is well conditioned for the steps
            that resolve the precession) or "direct" (MUMPS LU every step). PETSc options
            with the prefix ``fem_spin_llg_`` reach it.
    """

    SOLVERS = ("iterative", "direct")

    def __init__(self, mesh, magnets: list, B=(0.0, 0.0, 0.0), theta: float = 1.0,
                 solver: str = "iterative", demag=None, B_static=None, precession: bool = True,
                 order: int = 2, demag_every: int = 1, midpoint_tol: float = MIDPOINT_TOL,
                 demag_implicit: bool = True):
        if not 0.5 <= theta <= 1.0:
            raise ValueError(f"theta must be in [1/2, 1], got {theta!r}")
        if solver not in self.SOLVERS:
            raise ValueError(f"the LLG solver must be one of {self.SOLVERS}, got {solver!r}")
        magnets = [(with_ghosts(mesh, c), p, u0) for c, p, u0 in magnets]
        self.mesh, self.theta, self.magnets = mesh, theta, magnets
        comm = mesh.comm
        tdim = mesh.topology.dim
        self.U = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))
        self.u = dolfinx.fem.Function(self.U, name="u")
        # Cell markers: 1 on magnets that move, 2 on fixed magnets (u held), 0 elsewhere.
        ncells = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
        marker = np.zeros(ncells, dtype=np.int32)
        for cells, p, _ in magnets:
            idx = np.arange(ncells, dtype=np.int32) if cells is None else cells
            marker[idx] = 1 if p.dynamic else 2
        self.cells_moving = np.flatnonzero(marker == 1).astype(np.int32)
        tags = dolfinx.mesh.meshtags(mesh, tdim, np.arange(ncells, dtype=np.int32), marker)
        self.cell_tags = tags  # 1 moving magnets, 2 held ones, 0 elsewhere
        self.dx = ufl.Measure("dx", domain=mesh, subdomain_data=tags)
        self.dxv = ufl.Measure("dx", domain=mesh, subdomain_data=tags,
                               metadata={"quadrature_rule": "vertex", "quadrature_degree": 1})
        pairs = [(c, p) for c, p, _ in magnets]
        self.alpha = _cellwise(mesh, [(c, p.alpha_G) for c, p in pairs])
        self.c_ex = _cellwise(mesh, [(c, GAMMA * 2 * p.A_ex / p.Ms * NM2_PER_M2) for c, p in pairs])
        self.c_K = _cellwise(mesh, [(c, 2 * p.K_u / p.Ms) for c, p in pairs])
        self.e_K = _cellwise(mesh, [(c, np.asarray(p.K_axis, float) / np.linalg.norm(p.K_axis))
                                    for c, p in pairs], (3,))
        self.c_K2 = _cellwise(mesh, [(c, 2 * p.K2 / p.Ms) for c, p in pairs])
        self.e_K2 = _cellwise(mesh, [(c, np.asarray(p.K2_axis, float) / np.linalg.norm(p.K2_axis))
                                     for c, p in pairs], (3,))
        self.K2 = _cellwise(mesh, [(c, p.K2) for c, p in pairs])
        self.Ms = _cellwise(mesh, [(c, p.Ms) for c, p in pairs])
        self.A_ex = _cellwise(mesh, [(c, p.A_ex) for c, p in pairs])
        self.K_u = _cellwise(mesh, [(c, p.K_u) for c, p in pairs])
        self.B = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(tuple(B)))
        self.B_sd = dolfinx.fem.Function(self.U, name="B_sd")  # set by the coupling, tesla
        self.demag, self.B_static = demag, B_static
        self.B_demag = demag.B if demag is not None else None
        self._demag_of = None  # the u whose B_demag is current
        if int(demag_every) != demag_every or demag_every < 1:
            raise ValueError(f"demag_every must be a whole number >= 1, got {demag_every!r}")
        self.demag_every = int(demag_every)
        self.demag_solved = True  # B_demag is of a solve (False: extrapolated)
        self._solves: list = []  # (step, time, nonlocal part of B_d) of the last solves in a row
        self._clock = 0.0  # time since the LLG was made [s] (the extrapolation's abscissa)
        self.k = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(1e-13))
        # Which nodes move: lumped mass of the moving magnets > 0 (owned and ghost nodes).
        S1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        w = dolfinx.fem.assemble_vector(dolfinx.fem.form(ufl.TestFunction(S1) * self.dxv(1)))
        w.scatter_reverse(dolfinx.la.InsertMode.add)
        w.scatter_forward()
        for cells, p, u0 in sorted(magnets, key=lambda t: t[1].dynamic):  # moving ones win
            GroupInterpolation(self.U, cells)(self.u, u0)
        self._normalise()
        self.moving = (w.array > 0) & (np.linalg.norm(self.u.x.array.reshape(-1, 3), axis=1) > 0)
        self.precession = precession
        self._alpha_max = max((p.alpha_G for _, p, _ in magnets if p.dynamic), default=0.0)
        self._alpha_max0 = self._alpha_max
        self._alpha0 = (self.alpha.value.copy() if isinstance(self.alpha, dolfinx.fem.Constant)
                        else self.alpha.x.array.copy())
        if order not in (1, 2):
            raise ValueError(f"the LLG's order must be 1 or 2, got {order!r}")
        if order == 2 and not precession:
            order = 1  # relaxation is first order (its steps follow no trajectory)
        self.order = order
        # order 2: the explicit fields at t_n + k/2, extrapolated from this step and the last
        # (weight k/(2 k_prev); 0 until a previous step exists)
        self._w = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(0.0))
        # the demag's weight: w when it is extrapolated, 0 when it is solved at each midpoint
        # iterate (demag_implicit: the extrapolated field made a film's fast modes grow)
        self._wd = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(0.0))
        # B_sd's weight: w, or 0 where B_sd is not smooth in time (transient electrons turn at
        # omega0, unresolved by the step: extrapolating that oscillation made it grow)
        self._ws = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(0.0))
        self.extrapolate_sd = True
        self.demag_implicit = demag_implicit and demag is not None and demag_every == 1
        self.mid = dolfinx.fem.Function(self.U, name="u_mid")  # the midpoint iterate a
        self.midpoint_tol = float(midpoint_tol)
        self.midpoint_iterations = 0  # of the last step
        self.error_estimate = 0.0  # the last order-2 step's embedded estimate (max nodal |du|)
        self.estimate_embedded = False
        self._prev = None  # (B_sd, B_demag) Functions of the last step, and its k
        self._prev_k = None
        self._v_hist: list = []  # (k, velocity array) of the last two steps, newest last
        self._compiled: dict = {}
        self.a, self.L = self._forms(precession, order)
        self.A = dolfinx.fem.petsc.create_matrix(self.a)
        self._assembly = CSRAssembly(self.A, self.a)  # every variant of a has its sparsity
        self.b = dolfinx.fem.petsc.create_vector(self.U)
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix("fem_spin_llg_")
        pc = self.ksp.getPC()
        if solver == "direct":
            self.ksp.setType("preonly")
            pc.setType("lu")
            pc.setFactorSolverType("mumps")
        else:
            self.ksp.setType("gmres")
            self.ksp.setTolerances(rtol=1e-10, atol=0.0, max_it=500)
            self.ksp.setInitialGuessNonzero(True)
            pc.setType("bjacobi")  # ILU(0) per rank (PETSc's default sub-solver)
            # Without damping and exchange a node's 2 x 2 block is skew (zero diagonal): ILU's
            # zero pivots are shifted, not fatal.
            opts = PETSc.Options("fem_spin_llg_")
            if not opts.hasName("sub_pc_factor_shift_type"):
                opts["sub_pc_factor_shift_type"] = "nonzero"
                self._own_options = ["sub_pc_factor_shift_type"]
        self.ksp.setFromOptions()
        self.solver = solver
        self.iterations = 0  # of the last step's solve
        self.velocity = dolfinx.fem.Function(self.U, name="v")
        self.steps = 0
        # The reduced unknowns: 2 per moving owned node, numbered consecutively across ranks.
        # Held nodes have no column in Q, so they are not in Q^T A Q at all (no diagonal to
        # insert into rows that PtAP leaves empty: that needed new entries every step).
        n = self.U.dofmap.index_map.size_local
        self._moving_owned = self.moving[:n].copy()
        count = int(np.count_nonzero(self._moving_owned))
        self._reduced_offset = comm.exscan(count) or 0
        self._reduced_global = comm.allreduce(count)
        self.reduced_mallocs = 0  # MatGetInfo's mallocs of the last step's Q^T A Q

    def _forms(self, precession: bool, order: int):
        """The compiled (a, L) of one variant of the step (cached: stages switch between them).

        Order 1: the theta scheme about a = u^n. Order 2: the midpoint rule of the module
        docstring, a = self.mid (the iterate u^n + k v/2, not normalised: a x v/|a|^2 is the
        midpoint rule's exact precession term), theta = 1/2 for the exchange and the anisotropy
        (both linear: their k v/2 part in the matrix), B_sd and the demag extrapolated to t_n +
        k/2 (or the demag solved at a, demag_implicit)."""
        key = (precession, order)
        if key in self._compiled:
            return self._compiled[key]
        v, phi = ufl.TrialFunction(self.U), ufl.TestFunction(self.U)
        un = self.u
        theta = self.theta
        field = self.field(un)
        a_vec, skew_scale = un, 1.0
        if order == 2:
            self._history_fields()
            sd0, d0 = self._prev
            theta, a_vec = 0.5, self.mid
            # nodal |a|^2 >= 1 - k^2 |v|^2/4 > 0 at the vertices of moving cells (the only ones
            # dxv(1) visits); the floor only guards a magnet node that has no direction
            skew_scale = 1.0 / ufl.max_value(ufl.dot(a_vec, a_vec), 1e-30)
            # the anisotropy at the midpoint u^n + k v/2: its k v/2 part is in the matrix (linear,
            # like the exchange's), so the fixed point iterates only the tangent plane
            field = self.anisotropy_field(un) + self.B + self.B_sd + self._ws * (self.B_sd - sd0)
            if self.B_demag is not None:
                field = field + self.B_demag + self._wd * (self.B_demag - d0)
            if self.B_static is not None:
                field = field + self.B_static
        lumped = self.alpha * ufl.inner(v, phi)
        if order == 2:
            lumped = lumped - 0.5 * self.k * GAMMA * ufl.inner(self.anisotropy_field(v), phi)
        if precession:
            lumped = lumped + skew_scale * ufl.inner(ufl.cross(a_vec, v), phi)
        elif self.demag is not None and hasattr(self.demag, "tensor"):
            # Relaxation: the local part of B_d, -mu0 Ms N u, taken implicitly. It vanishes with
            # v at equilibrium (the relaxed state is the same) and lets the steps be long: the
            # explicit field alone limits them to gamma mu0 Ms dt/alpha_G < ~1 (a film's
            # out-of-plane mode), while its slow modes take hundreds of those steps.
            lumped = lumped + self.k * GAMMA * ufl.inner(ufl.dot(self._relax_tensor(), v), phi)
        a = (lumped * self.dxv(1)
             + theta * self.k * self.c_ex * ufl.inner(ufl.grad(v), ufl.grad(phi)) * self.dx(1))
        L = (-self.c_ex * ufl.inner(ufl.grad(un), ufl.grad(phi)) * self.dx(1)
             + GAMMA * ufl.inner(field, phi) * self.dxv(1))
        self._compiled[key] = (dolfinx.fem.form(a), dolfinx.fem.form(L))
        return self._compiled[key]

    def _relax_tensor(self) -> dolfinx.fem.Constant:
        """mu0 Ms N [T] of the demag's magnets (computed once, three solves)."""
        if getattr(self, "_N", None) is None:
            N = self.demag.tensor()
            self._demag_of = None  # those solves replaced the potential of u
            self._N = dolfinx.fem.Constant(self.mesh, dolfinx.default_scalar_type(
                4e-7 * np.pi * max(self.demag.Ms.values()) * N))
            logger.info("demag: its local part -mu0 Ms N u (%s), N = diag(%.4f, %.4f, %.4f) "
                        "(off-diagonal up to %.2g)",
                        "relaxation takes it implicitly" if not self.precession
                        else f"from each step's u between the solves of every {self.demag_every} steps",
                        *np.diag(N), np.max(np.abs(N - np.diag(np.diag(N)))))
        return self._N

    def set_stage(self, B=None, alpha_G: float | None = None, precession: bool | None = None,
                  order: int | None = None) -> None:
        """Change what a stage of a run changes: the applied field [T], the damping of every
        moving magnet, the precession (off: relaxation) and the order of the step. The
        order-2 history starts again (a jump of B or alpha_G is not extrapolated across)."""
        if B is not None:
            self.B.value[:] = B
        # alpha_G None: each magnet's own damping again (after a stage that changed it)
        if isinstance(self.alpha, dolfinx.fem.Constant):
            self.alpha.value = self._alpha0 if alpha_G is None else alpha_G
        else:
            self.alpha.x.array[:] = self._alpha0
            if alpha_G is not None:
                dofs = self.alpha.function_space.dofmap.list[self.cells_moving].reshape(-1)
                self.alpha.x.array[dofs] = alpha_G
            self.alpha.x.scatter_forward()
        self._alpha_max = self._alpha_max0 if alpha_G is None else alpha_G
        precession = self.precession if precession is None else precession
        order = self.order if order is None else order
        if order == 2 and not precession:
            order = 1  # relaxation is first order
        self.precession, self.order = precession, order
        self.a, self.L = self._forms(precession, order)
        self._prev_k = None
        self._v_hist = []
        self._solves = []  # the demag's extrapolation starts again too

    def field(self, u) -> ufl.core.expr.Expr:
        """The explicit part of B_eff [T]: anisotropy, applied field and B_sd (and the
        demagnetizing and Oersted fields when given; without them the form is as before)."""
        B = self.anisotropy_field(u) + self.B + self.B_sd
        for extra in (self.B_demag, self.B_static):
            if extra is not None:
                B = B + extra
        return B

    def anisotropy_field(self, u) -> ufl.core.expr.Expr:
        """(2 K_u/Ms)(u.e_K) e_K + (2 K2/Ms)(u.e2) e2 [T]."""
        return self.c_K * ufl.dot(u, self.e_K) * self.e_K + self.c_K2 * ufl.dot(u, self.e_K2) * self.e_K2

    def update_demag(self, solve: bool = False) -> None:
        """B_demag of the current u, unless it is already (collective): one Poisson solve, or,
        with demag_every > 1 between the solves of a precessing stage, extrapolated from them.
        solve: a solve in any case (a state that is written)."""
        if self.demag is None:
            return
        x = self.u.x.array
        stale = self._demag_of is None or not np.array_equal(x, self._demag_of)
        if not self.mesh.comm.allreduce(stale or (solve and not self.demag_solved), op=MPI.LOR):
            return
        since = self.steps - self._solves[-1][0] if self._solves else 0
        keep = self.demag_every > 1 and self.precession
        if solve or not keep or len(self._solves) < 3 or since >= self.demag_every:
            if keep and hasattr(self.demag, "tensor"):
                self._relax_tensor()  # once, before this solve (its three solves replace phi)
            self.demag(self.u)
            self.demag_solved = True
            if keep:
                self._solves = (self._solves + [(self.steps, self._clock, self._nonlocal_demag())])[-3:]
        else:
            self._extrapolated_demag()
            self.demag_solved = False
        self._demag_of = x.copy()

    def _local_demag(self) -> np.ndarray:
        """-mu0 Ms N u at the nodes [T] (N the magnetometric tensor, Ms the largest): the part
        of B_d that follows u itself. In a film it is the stiff out-of-plane field."""
        if not hasattr(self.demag, "tensor"):
            return np.zeros_like(self.u.x.array)
        N = self._relax_tensor().value
        return -(self.u.x.array.reshape(-1, 3) @ N.T).reshape(-1)

    def _nonlocal_demag(self) -> np.ndarray:
        return self.B_demag.x.array - self._local_demag()

    def _extrapolated_demag(self) -> None:
        """B_d at this step without a solve: the nonlocal part B_d + mu0 Ms N u extrapolated
        from the last three solves (the parabola through them, at their times), plus the local
        part of this u. The local part is the field's fast part (a film's out-of-plane
        precession, its finest modes): taken from u itself, it is not extrapolated."""
        t = self._clock
        (_, t0, r0), (_, t1, r1), (_, t2, r2) = self._solves
        w0 = (t - t1) * (t - t2) / ((t0 - t1) * (t0 - t2))
        w1 = (t - t0) * (t - t2) / ((t1 - t0) * (t1 - t2))
        w2 = (t - t0) * (t - t1) / ((t2 - t0) * (t2 - t1))
        self.B_demag.x.array[:] = w0 * r0 + w1 * r1 + w2 * r2 + self._local_demag()

    def _normalise(self, only=None) -> None:
        """|u| = 1 at the nodes (`only`: a mask of the nodes to touch; held nodes keep their bits)."""
        x = self.u.x.array.reshape(-1, 3)
        n = np.linalg.norm(x, axis=1)
        sel = n > 0 if only is None else only & (n > 0)
        x[sel] /= n[sel, None]
        self.u.x.scatter_forward()

    def _tangent_basis(self, about=None) -> PETSc.Mat:
        """Q (3N x 2N_moving): two orthonormal vectors normal to `about` (a Function; u^n by
        default) at every moving owned node; the rows of held nodes are empty."""
        imap = self.U.dofmap.index_map
        n = imap.size_local
        mov = self._moving_owned
        u = (self.u if about is None else about).x.array.reshape(-1, 3)[:n][mov]
        u = u / np.linalg.norm(u, axis=1)[:, None]
        helper = np.where(np.abs(u[:, [0]]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        t1 = np.cross(u, helper)
        t1 /= np.linalg.norm(t1, axis=1)[:, None]
        t2 = np.cross(u, t1)
        vals = np.stack([t1, t2], axis=2)  # (moving, 3, 2)
        per_row = np.repeat(np.where(mov, 2, 0), 3)
        rows = np.concatenate([[0], np.cumsum(per_row)]).astype(PETSc.IntType)
        first = 2 * (self._reduced_offset + np.arange(len(u)))
        cols = (np.repeat(first, 3)[:, None] + np.arange(2)).astype(PETSc.IntType)
        nm = len(u)
        Q = PETSc.Mat().createAIJ(((3 * n, None), (2 * nm, None)),
                                  csr=(rows, cols.reshape(-1), vals.reshape(-1)), comm=self.mesh.comm)
        Q.assemble()
        return Q

    def step(self, dt: float) -> None:
        """One step of length dt [s] (order 1: the velocity, then renormalise; order 2: the
        midpoint rule, `_midpoint`)."""
        self.k.value = dt
        implicit = self.order == 2 and self.demag_implicit  # order 2 always precesses
        if not implicit:
            self.update_demag()
        if self.order == 2:
            self._w.value = 0.0 if self._prev_k is None else 0.5 * dt / self._prev_k
            self._wd.value = 0.0 if implicit else self._w.value
            self._ws.value = self._w.value if self.extrapolate_sd else 0.0
            self._midpoint(dt, implicit)
            # this step's extrapolated fields are the next one's history
            for old, new in zip(self._prev, (self.B_sd, self.B_demag)):
                if new is not None:
                    old.x.array[:] = new.x.array
            self._prev_k = dt
            self._v_hist = (self._v_hist + [(dt, self.velocity.x.array.copy())])[-2:]
        else:
            self._solve_velocity(dt)
        self.u.x.array[:] += dt * self.velocity.x.array
        self._normalise(self.moving)  # order 2: |u| moved by the fixed point's tolerance at most
        self.steps += 1
        self._clock += dt

    def predicted_velocity(self, dt: float) -> np.ndarray | None:
        """The velocity at t_n + dt/2 extrapolated linearly from the last two steps' (each the
        velocity at its own midpoint), the last one's alone with one; None with none."""
        if not self._v_hist:
            return None
        if len(self._v_hist) == 1:
            return self._v_hist[-1][1]
        (k2, v2), (k1, v1) = self._v_hist
        return v1 + (dt + k1) / (k1 + k2) * (v1 - v2)

    def _midpoint(self, dt: float, implicit_demag: bool = False) -> None:
        """The midpoint rule's velocity: a = u^n + dt v/2, v the velocity of the tangent-plane
        system at a, iterated from the extrapolated velocity until an iteration changes u by less
        than midpoint_tol at every node. Sets error_estimate: max |dt (v - v_pred)|/12 with
        v_pred the extrapolation from two steps (the midpoint's local error is about a twelfth
        of the two's distance, both being O(dt^3): Milne's device), or max |dt (v - v_pred)|/2
        with one step (or the first iterate's velocity with none): O(dt^2), an overestimate."""
        comm = self.mesh.comm
        mov = self.moving
        x_n = self.u.x.array
        pred = self.predicted_velocity(dt)
        self.velocity.x.array[:] = 0.0 if pred is None else pred
        ref, last_change = pred, np.inf  # what the estimate compares with
        for it in range(1, MIDPOINT_MAX_IT + 1):
            self.mid.x.array[:] = x_n + 0.5 * dt * self.velocity.x.array
            if implicit_demag:  # B_d of the midpoint (linear in u: the mean of B_d(u^n), B_d(u^n+1))
                self.demag(self.mid)
                self._demag_of = None
            before = self.velocity.x.array.copy()
            self._solve_velocity(dt, about=self.mid)
            if ref is None:  # no step before: the first iterate's velocity (at a = u^n)
                ref = self.velocity.x.array.copy()
            moved = (dt * (self.velocity.x.array - before)).reshape(-1, 3)[mov]
            change = comm.allreduce(float(np.max(np.linalg.norm(moved, axis=1), initial=0.0)), op=MPI.MAX)
            if change <= self.midpoint_tol:
                break
            # An iterative solve (the tangent plane's GMRES at 1e-10, the demag's CG at 1e-8)
            # leaves noise the iteration cannot go below: once it stops contracting there, the
            # fixed point is as good as the solves (SP4's film at 0.5 ps crept from 1e-8 to
            # 2e-10 in 30 iterations). A resolved step contracts by about omega dt/2 << 1/2 an
            # iteration, so only an unresolved one (its error estimate says so) stops here early.
            if change <= MIDPOINT_NOISE and change > 0.5 * last_change:
                break
            last_change = change
        else:
            raise StepNotConverged(f"the midpoint step's fixed point did not converge in {MIDPOINT_MAX_IT} "
                               f"iterations (the last moved u by {change:.3g}, dt = {dt:.3g} s): take a "
                               "shorter dt_s")
        self.midpoint_iterations = it
        two = len(self._v_hist) == 2
        diff = (dt * (self.velocity.x.array - ref)).reshape(-1, 3)[mov]
        self.estimate_embedded = two  # False: the crude first steps' (an overestimate)
        self.error_estimate = (1.0 / 12.0 if two else 0.5) * comm.allreduce(
            float(np.max(np.linalg.norm(diff, axis=1), initial=0.0)), op=MPI.MAX)

    def history(self) -> dict:
        """The scheme's state beyond u (what a step reads of the steps before): for a rejected
        adaptive step and for a checkpoint. Copies."""
        return {"prev_k": self._prev_k, "v_hist": [(k, v.copy()) for k, v in self._v_hist],
                "prev": [f.x.array.copy() for f in self._prev] if self._prev is not None else None,
                "solves": [(n, t, r.copy()) for n, t, r in self._solves],
                "steps": self.steps, "clock": self._clock, "demag_solved": self.demag_solved}

    def restore_history(self, h: dict) -> None:
        self._prev_k, self._v_hist = h["prev_k"], [(k, v.copy()) for k, v in h["v_hist"]]
        if h["prev"] is not None:
            for f, x in zip(self._history_fields(), h["prev"]):
                f.x.array[:] = x
        self._solves = [(n, t, r.copy()) for n, t, r in h["solves"]]
        self.steps, self._clock = h["steps"], h["clock"]
        self.demag_solved = h.get("demag_solved", True)

    def _history_fields(self) -> tuple:
        """(B_sd, B_demag) of the last step: the extrapolation's history (made once)."""
        if self._prev is None:
            self._prev = tuple(dolfinx.fem.Function(self.U) for _ in range(2))
        return self._prev

    def _solve_velocity(self, dt: float, about=None) -> None:
        """self.velocity <- the tangent-plane system's solution at `about` (u^n by default)."""
        self._assembly.assemble(self.a)
        self.A.assemble()
        with self.b.localForm() as loc:
            loc.set(0.0)
        dolfinx.fem.petsc.assemble_vector(self.b, self.L)
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        if self._reduced_global == 0:  # nothing moves
            self.velocity.x.array[:] = 0.0
            return
        # Only the moving nodes' tangent unknowns: Q^T A Q as PtAP builds it, nothing inserted.
        Q = self._tangent_basis(about)
        Ar = self.A.PtAP(Q)
        self.reduced_mallocs = int(Ar.getInfo()["mallocs"])
        br, y = Ar.createVecs()
        Q.multTranspose(self.b, br)
        Q.multTranspose(self.velocity.x.petsc_vec, y)  # the last velocity, projected: the guess
        self.ksp.setOperators(Ar)
        self.ksp.solve(br, y)
        if self._own_options:  # read by the sub-solvers' first set-up: not left behind
            self.destroy_options()
        reason = self.ksp.getConvergedReason()
        self.iterations = self.ksp.getIterationNumber()
        if reason <= 0:
            for obj in (Q, Ar, br, y):
                obj.destroy()
            raise SolverError(f"the LLG step's {self.solver} solve did not converge (PETSc reason "
                               f"{reason}, {self.iterations} iterations, dt = {dt:.3g} s): take a "
                               "shorter dt_s, or [dynamics] llg_solver = \"direct\"")
        Q.mult(y, self.velocity.x.petsc_vec)
        self.velocity.x.scatter_forward()
        for obj in (Q, Ar, br, y):
            obj.destroy()

    def energies(self, solve: bool = False) -> dict[str, float]:
        """Exchange, anisotropy and Zeeman (applied field) energies of the moving magnets [J]
        (the exchange between a moving and a held magnet is not modelled), and the demag's.
        Between the demag's solves (demag_every > 1) its energies and the total are NaN: an
        extrapolated field has no potential, and its nodal energy would carry the extrapolation
        error into the energy check. solve: solve the demag here in any case."""
        if not hasattr(self, "_energy_forms"):
            u = self.u
            # the local terms with the steps' nodal weights (dxv): the energy whose gradient the
            # steps take, so that the midpoint's discrete energy law holds for it exactly
            self._energy_forms = {k: dolfinx.fem.form(e) for k, e in (
                ("exchange_J", self.A_ex * NM2_PER_M2 * ufl.inner(ufl.grad(u), ufl.grad(u)) * self.dx(1)),
                ("anisotropy_J", (-self.K_u * ufl.dot(u, self.e_K) ** 2
                                  - self.K2 * ufl.dot(u, self.e_K2) ** 2) * self.dxv(1)),
                ("zeeman_J", -self.Ms * ufl.dot(u, self.B) * self.dxv(1)))}
            if self.B_static is not None:
                self._energy_forms["oersted_J"] = dolfinx.fem.form(
                    -self.Ms * ufl.dot(u, self.B_static) * self.dx(1))
        comm = self.mesh.comm
        e = {k: comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM) * 1e-27
             for k, f in self._energy_forms.items()}
        if self.demag is not None:  # of every magnet, held ones too (their part is constant)
            self.update_demag(solve)
            e["demag_J"] = self.demag.energy() if self.demag_solved else float("nan")
        e["total_J"] = sum(e.values())
        if self.demag is not None and not self.demag_solved:
            e["demag_nodal_J"] = float("nan")
        elif self.demag is not None:
            # The same energy from the field the steps use, -(1/2) int M.B_d with the steps' own
            # nodal weights: the twin's E_d (more accurate, on another mesh) is not exactly the
            # energy whose gradient B_d is, and their difference drifts by a few 1e-21 J while
            # SP4's field 2 starts (u nearly antiparallel to B: little damping to hide it), which
            # read as 10 rises at any dt and demag tolerance. The energy check uses this one.
            if not hasattr(self, "_demag_nodal"):
                self._demag_nodal = dolfinx.fem.form(
                    -0.5 * self.Ms * ufl.dot(self.u, self.B_demag) * self.dxv((1, 2)))
            e["demag_nodal_J"] = comm.allreduce(dolfinx.fem.assemble_scalar(self._demag_nodal), op=MPI.SUM) * 1e-27
        return e

    @staticmethod
    def stepped_total(e: Mapping[str, float]) -> float:
        """The total energy of a row of `energies()` with the demag part the steps see (the
        discrete dynamics' own energy: what damping without drive must not raise)."""
        if "demag_nodal_J" in e:
            return e["total_J"] - e["demag_J"] + e["demag_nodal_J"]
        return e["total_J"]

    def max_torque(self) -> float:
        """The largest |u x B_eff| [T] over the moving nodes, from the last step's velocity:
        alpha_G |v|/gamma without precession (|v| sqrt(1 + alpha_G^2)/gamma with it), taking
        the largest alpha_G of the moving magnets."""
        v = self.velocity.x.array.reshape(-1, 3)[self.moving]
        top = self.mesh.comm.allreduce(float(np.max(np.linalg.norm(v, axis=1), initial=0.0)), op=MPI.MAX)
        a = self._alpha_max
        return top * (a if not self.precession else np.sqrt(1 + a * a)) / GAMMA

    def max_norm_error(self) -> float:
        """max | |u(z)| - 1 | over the magnet nodes (every rank)."""
        x = self.u.x.array.reshape(-1, 3)
        local = float(np.max(np.abs(np.linalg.norm(x[self.moving], axis=1) - 1.0), initial=0.0))
        return self.mesh.comm.allreduce(local, op=MPI.MAX)

    _own_options: list = []

    def destroy(self) -> None:
        for obj in (self.ksp, self.A, self.b):
            obj.destroy()
        self.destroy_options()

    def destroy_options(self) -> None:
        opts = PETSc.Options("fem_spin_llg_")
        for key in self._own_options:
            opts.delValue(key)
        self._own_options = []
