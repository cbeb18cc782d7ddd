"""Magnetostatic fields on an open domain: the demagnetizing field and the Oersted field.

Both are Poisson problems on all of space with a potential that vanishes at infinity. The
mesh (fem_spin.geometry.air) holds the sources inside an air ball |x - c| <= R1 and a shell
R1 <= |x - c| <= R2 around it. The shell transformation (Brunotte, Meunier and Imhoff, IEEE
Trans. Magn. 28, 1663 (1992); as in magnum.fe, Abert et al. 2013) maps the shell radially onto
the whole exterior |y - c| >= R1, |y - c| = f(|x - c|) with f(R1) = R1 and f(R2) = infinity.
The exterior's Dirichlet integral pulled back onto the shell is

    (K grad u, grad v)_shell,  K = det(J) J^-1 J^-T = (f/r)^(d-1)/f' P + f' (f/r)^(d-3) (I - P),

J = dy/dx, P = e_r e_r^T (K = I elsewhere), and u = 0 on |x - c| = R2 is the condition at
infinity: there is no truncation, only the discretisation of the shell errs. The map is

    f(r) = R1 (D/(R2 - r))^p,  D = R2 - R1   (mapping "power"; p = 1 by default),

for p = 1 Brunotte's inverse map, a radial Kelvin inversion: 1/|y| = (R2 - r)/(R1 D) is linear
in r, so the monopole (1/|y|) and dipole (1/|y|^2) parts of a potential are polynomials of
degree 1 and 2 along the radius, exact in P2; in 3D K = R1 D (P/r^2 + (I - P)/(R2 - r)^2).
"rational" is f = r D/(R2 - r). docs/magnetostatics.md compares them, the radii and the degree.

K's tangential part grows like (R2 - r)^-2 at the outer surface; no quadrature rule integrates
that exactly (the exact integral diverges on an element with a face or an edge there), so the
shell's quadrature degree is part of the method and is set explicitly: 2 (degree - 1), the
exact degree of the Laplacian itself, measured best (on a sphere, degree 4 gives N -0.71%
instead of -0.47% and 30% more CG iterations).

The potentials are P2 by default: a sphere's demagnetizing factor erred by 9.7% with P1 at
radius 5 h (4.5% at 10 h), by 0.47% with P2 at 5 h. One operator, one preconditioner: the matrix is assembled and CG + GAMG
set up once (`ShellPoisson`); each evaluation assembles a right side and starts CG from the
previous potential. Fields are returned as P1 vectors (`CellProjection`) on chosen cells.

Units: meshes in nm, M and H in A/m, B in T, j in A/m^2, energies in J. The scalar potential
phi of H = -grad phi is in A/m * nm (so H = -grad phi needs no factor); the vector potential
A' solves -lap A' = mu0 j with nm derivatives, and B = 1e-9 curl A' (T).
"""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Mapping, Sequence

import numpy as np

from fem_spin._backend import MPI, PETSc, dolfinx, ufl
from fem_spin.io.output import sample
from fem_spin.progress import logger
from fem_spin.solvers.linear import SolverError, prefixed_ksp, reason_name

MU0 = 1.25663706212e-6  # vacuum permeability [T m/A] (CODATA 2018)
NM3_PER_M3 = 1e27
# One count per solver name: a run with demag and Oersted has fem_spin_demag0_ and fem_spin_oersted0_
_counters: dict[str, itertools.count] = collections.defaultdict(itertools.count)

# CG + smoothed-aggregation AMG for the SPD transformed Laplacian, SOR under the Chebyshev
# smoother (PETSc's SOR is symmetric, as CG needs): with the default Jacobi the smoother's
# eigenvalue estimate can fail on the shell's large, anisotropic coefficients (with the power-2
# map CG stopped with DIVERGED_INDEFINITE_PC on a sphere at h = 1.5 nm; with the default map
# Jacobi took 34 iterations where SOR takes 19). 16-26 iterations from 4e3 to 6e4 DOFs.
# One smoothing step per level (PETSc's default is 2): on SP4's film (2.5e5 P2 DOFs, 2 ranks)
# a warm-started solve took 4 iterations either way, 0.13 s instead of 0.35 s
# (docs/benchmark.md).
DEFAULT_OPTIONS: dict[str, object] = {"ksp_type": "cg", "pc_type": "gamg", "mg_levels_pc_type": "sor",
                                      "mg_levels_ksp_max_it": 1, "ksp_rtol": 1e-8, "ksp_max_it": 500}
MAPPINGS = ("power", "rational")
# The L2 projection's CG (Jacobi on the P1 mass matrix, from the last field): 1e-9 of the
# right side is far below the potential's own error (its CG stops at 1e-8, 1e-5 in the LLG)
# and takes 15 iterations where 1e-12 took 22 (SP4's film).
PROJECTION_RTOL = 1e-9


def _tags(tags: int | Sequence[int]) -> tuple[int, ...]:
    return (int(tags),) if np.isscalar(tags) else tuple(int(t) for t in tags)


def _owned(mesh, cell_tags, tags: Sequence[int]) -> np.ndarray:
    """The owned cells with any of `tags`."""
    n = mesh.topology.index_map(mesh.topology.dim).size_local
    cells = np.concatenate([cell_tags.find(t) for t in tags]) if tags else np.zeros(0, np.int32)
    return np.unique(cells[cells < n]).astype(np.int32)


def _markers(mesh, groups: Sequence[tuple[np.ndarray, int]], default: int = 0):
    """Meshtags over every owned cell: `default`, then each (cells, value) in turn."""
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    marker = np.full(n, default, dtype=np.int32)
    for cells, value in groups:
        marker[cells] = value
    return dolfinx.mesh.meshtags(mesh, tdim, np.arange(n, dtype=np.int32), marker)


class Magnetization:
    """M = Ms u on the magnets' cells, the source of both demag methods (DemagField,
    fembem.FredkinKoehler): u (P1, gdim components), Ms (DG0, one value per magnet tag), M and
    the magnets' measure dxm."""

    def __init__(self, mesh, cell_tags, magnets: Mapping[int, float]):
        if not magnets or any(not ms > 0 for ms in magnets.values()):
            raise ValueError(f"magnets must map cell tags to Ms > 0 A/m, got {dict(magnets)!r}")
        self.mesh = mesh
        self.tags = tuple(int(t) for t in magnets)
        self.U = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (mesh.geometry.dim,)))
        self.u = dolfinx.fem.Function(self.U, name="u")
        DG = dolfinx.fem.functionspace(mesh, ("DG", 0))
        self.Ms = dolfinx.fem.Function(DG, name="Ms")
        for tag, ms in magnets.items():
            self.Ms.x.array[DG.dofmap.list[_owned(mesh, cell_tags, (tag,)), 0]] = float(ms)
        self.Ms.x.scatter_forward()
        cells = _owned(mesh, cell_tags, self.tags)
        if mesh.comm.allreduce(len(cells), op=MPI.SUM) == 0:
            raise ValueError(f"no cells carry the magnet tags {self.tags}")
        self.dxm = ufl.Measure("dx", domain=mesh, subdomain_data=_markers(mesh, [(cells, 1)]))(1)
        self.M = self.Ms * self.u

    def bind(self, phi) -> None:
        """The potential phi of H_d = -grad phi [A/m * nm] that energy() and average() read."""
        self._energy = dolfinx.fem.form(0.5 * MU0 * ufl.inner(self.M, ufl.grad(phi)) * self.dxm)
        self._mean = [dolfinx.fem.form(-phi.dx(i) * self.dxm) for i in range(self.mesh.geometry.dim)]
        self.volume = self.mesh.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(1.0 * self.dxm)),
                                               op=MPI.SUM)  # nm^3 (nm^2 in 2D)

    def energy(self) -> float:
        """E_d = -(mu0/2) (M, H_d)_magnets = (mu0/2) (M, grad phi)_magnets [J], from phi."""
        return self.mesh.comm.allreduce(dolfinx.fem.assemble_scalar(self._energy), op=MPI.SUM) / NM3_PER_M3

    def average(self) -> np.ndarray:
        """The magnets' volume average of -grad phi [A/m]."""
        comm = self.mesh.comm
        return np.array([comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM)
                         for f in self._mean]) / self.volume

    def set(self, u) -> None:
        """Take u: a Function with our P1 layout (copied), another Function or a callable
        (interpolated)."""
        W = getattr(u, "function_space", None)
        if W is self.U or (W is not None and W.mesh is self.mesh and W.element == self.U.element
                           and np.array_equal(W.dofmap.list, self.U.dofmap.list)):
            self.u.x.array[:] = u.x.array
        else:
            self.u.interpolate(u)
        self.u.x.scatter_forward()


def shell_tensor(mesh, R1: float, R2: float, center=(0.0, 0.0, 0.0), mapping: str = "power",
                 power: float = 1.0):
    """K(x) of the shell transformation (a UFL expression for R1 <= |x - c| < R2)."""
    if mapping not in MAPPINGS:
        raise ValueError(f"mapping must be one of {MAPPINGS}, got {mapping!r}")
    if mapping == "power" and not power >= 1:
        raise ValueError(f"the shell map's power must be >= 1, got {power!r}")
    d = mesh.geometry.dim
    x = ufl.SpatialCoordinate(mesh)
    xc = x - ufl.as_vector([float(v) for v in center[:d]])
    r = ufl.sqrt(ufl.dot(xc, xc))
    s, D = R2 - r, R2 - R1
    if mapping == "power":
        f = R1 * (D / s) ** power
        df = power * f / s
    else:
        f, df = r * D / s, D * R2 / s**2
    q = f / r
    P = ufl.outer(xc, xc) / r**2
    I = ufl.Identity(d)
    if d == 3:
        return q**2 / df * P + df * (I - P)
    return q / df * P + df / q * (I - P)


class ShellPoisson:
    """The transformed Laplacian (K grad u, grad v) on the whole mesh with u = 0 on the outer
    boundary, assembled once with its CG + GAMG solver; `solve(L, u)` assembles only L.

    Args:
        mesh: the mesh (nm); its exterior facets must lie on |x - c| = R2, the shell's cells
            in R1 <= r <= R2 and every other cell in r <= R1 (checked: a wrong radius or
            centre would give a plausible but wrong field).
        cell_tags: cell tags holding `shell_tag`.
        shell_tag: the shell's cells.
        R1, R2: the shell's radii [nm]; center: its centre [nm].
        degree: Lagrange degree of u (2; 1 for very large meshes, at 10x the error per cell).
        mapping, power: the radial map (module docstring).
        quadrature_degree: of the shell's integral (default 2 (degree - 1), at least 1).
        petsc_options: PETSc options over DEFAULT_OPTIONS, under the prefix `self.prefix`
            (so `-fem_spin_demag0_ksp_monitor` on the command line reaches this solver only).
        name: the prefix's name.
    """

    def __init__(self, mesh, cell_tags, shell_tag: int, R1: float, R2: float,
                 center: Sequence[float] = (0.0, 0.0, 0.0), *, degree: int = 2, mapping: str = "power",
                 power: float = 1.0, quadrature_degree: int | None = None,
                 petsc_options: Mapping[str, object] | None = None, name: str = "shell"):
        t0 = time.perf_counter()
        if not 0 < R1 < R2:
            raise ValueError(f"need 0 < R1 < R2, got R1 = {R1}, R2 = {R2}")
        self.mesh, self.comm = mesh, mesh.comm
        self.R1, self.R2 = float(R1), float(R2)
        self.center = tuple(float(v) for v in center) + (0.0,) * (3 - len(center))
        self.degree = int(degree)
        self.quadrature_degree = (max(2 * (self.degree - 1), 1) if quadrature_degree is None
                                  else int(quadrature_degree))
        tdim = mesh.topology.dim
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", self.degree))
        self.shell_cells = _owned(mesh, cell_tags, (shell_tag,))
        self._check_radii(shell_tag)
        marks = _markers(mesh, [(self.shell_cells, 1)])
        dx = ufl.Measure("dx", domain=mesh, subdomain_data=marks)
        dx_shell = ufl.Measure("dx", domain=mesh, subdomain_data=marks,
                               metadata={"quadrature_degree": self.quadrature_degree})(1)
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        K = shell_tensor(mesh, R1, R2, self.center, mapping, power)
        self.a = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * dx(0)
                                  + ufl.inner(ufl.dot(K, ufl.grad(u)), ufl.grad(v)) * dx_shell)
        facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
        self._check_outer(facets)
        dofs = dolfinx.fem.locate_dofs_topological(self.V, tdim - 1, facets)
        self.bcs = [dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(0.0), dofs, self.V)]
        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=self.bcs)
        self.A.assemble()
        self.b = dolfinx.fem.petsc.create_vector(self.V)
        self.options = {**DEFAULT_OPTIONS, **(petsc_options or {})}
        self.prefix = f"fem_spin_{name}{next(_counters[name])}_"
        self.ksp = prefixed_ksp(self.A, self.prefix, self.options)  # the command line's win
        self.ksp.setInitialGuessNonzero(True)
        self.ksp.setUp()  # GAMG's hierarchy, once for every evaluation
        self.setup_s = self.comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        self.num_dofs = self.V.dofmap.index_map.size_global
        self.iterations = 0
        self.solve_s = 0.0

    def _check_radii(self, shell_tag: int) -> None:
        tdim = self.mesh.topology.dim
        n = self.mesh.topology.index_map(tdim).size_local
        rest = np.setdiff1d(np.arange(n, dtype=np.int32), self.shell_cells)
        c = np.asarray(self.center)

        def radii(cells):
            if len(cells) == 0:
                return np.zeros(0)
            nodes = dolfinx.mesh.entities_to_geometry(self.mesh, tdim, cells)
            return np.linalg.norm(self.mesh.geometry.x[nodes.reshape(-1)] - c, axis=1)

        rs, ro = radii(self.shell_cells), radii(rest)
        lo = self.comm.allreduce(float(rs.min(initial=np.inf)), op=MPI.MIN)
        hi = self.comm.allreduce(float(rs.max(initial=0.0)), op=MPI.MAX)
        inner = self.comm.allreduce(float(ro.max(initial=0.0)), op=MPI.MAX)
        tol = 1e-6 * self.R2
        if not np.isfinite(lo) or lo < self.R1 - tol or hi > self.R2 + tol or inner > self.R1 + tol:
            d = self.mesh.geometry.dim
            raise ValueError(
                f"the shell (tag {shell_tag}) spans r = {lo:.6g}..{hi:.6g} nm and the other cells reach "
                f"r = {inner:.6g} nm about {self.center[:d]}; expected R1 = {self.R1:g} nm, "
                f"R2 = {self.R2:g} nm "
                "(check R1, R2, the centre and the shell's tag)")

    def _check_outer(self, facets: np.ndarray) -> None:
        fdim = self.mesh.topology.dim - 1
        nodes = dolfinx.mesh.entities_to_geometry(self.mesh, fdim, facets)
        x = self.mesh.geometry.x[nodes.reshape(-1)]
        err = np.abs(np.linalg.norm(x - np.asarray(self.center), axis=1) - self.R2)
        worst = self.comm.allreduce(float(err.max(initial=0.0)), op=MPI.MAX)
        if worst > 1e-6 * self.R2:
            raise ValueError(f"an exterior facet lies {worst:.3g} nm off the sphere r = R2 = {self.R2:g} nm: "
                             "the mesh must end at the shell's outer surface")

    def solve(self, L, u: dolfinx.fem.Function, source: dolfinx.fem.Function | None = None) -> int:
        """Solve (K grad u, grad v) = L(v) into u, from u's values; returns the iterations.
        L: a form, or a matrix whose product with `source`'s vector is the right side (for a
        right side linear in a Function, assembled once: a product instead of an assembly)."""
        if isinstance(L, PETSc.Mat):
            L.mult(source.x.petsc_vec, self.b)
        else:
            with self.b.localForm() as loc:
                loc.set(0.0)
            dolfinx.fem.petsc.assemble_vector(self.b, L)
            self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        # u = 0 on the boundary: no lifting, only the boundary rows set to 0
        dolfinx.fem.petsc.set_bc(self.b, self.bcs)
        t0 = time.perf_counter()
        self.ksp.solve(self.b, u.x.petsc_vec)
        u.x.scatter_forward()
        self.solve_s = self.comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        reason = self.ksp.getConvergedReason()
        self.iterations = self.ksp.getIterationNumber()
        if reason <= 0:
            raise SolverError(f"the magnetostatic solve ({self.prefix}) did not converge: PETSc reason "
                              f"{reason_name(reason)} ({reason}) after {self.iterations} iterations")
        return self.iterations

    def check_points(self, points: np.ndarray) -> None:
        """Refuse points outside the air ball: in the shell the mesh's coordinates are not
        positions (the field there is the mapped one)."""
        d = self.mesh.geometry.dim
        r = np.linalg.norm(np.asarray(points, float)[:, :d] - np.asarray(self.center[:d]), axis=1)
        if r.size and r.max() > self.R1:
            raise ValueError(f"a point lies {r.max():.4g} nm from the centre, outside the air ball "
                             f"R1 = {self.R1:g} nm, where the mesh is the mapped exterior")

    def destroy(self) -> None:
        for obj in (self.ksp, self.A, self.b):
            obj.destroy()
        opts = PETSc.Options()
        for key in self.options:
            opts.delValue(f"-{self.prefix}{key}")


class CellProjection:
    """P1 nodal values of a cell-wise field f (e.g. -grad phi) computed from the given cells.

    Only those cells contribute, so a field that jumps at their boundary (H at a magnet's
    surface, B at a wire's) is not averaged with the outside's; nodes outside them get 0.

    kind "l2" (default): the L2 projection over the cells, (Pf, w) = (f, w), by CG + Jacobi on
    the mass matrix (assembled once; each projection is a vector assembly and a few CG
    iterations from the previous values). It is exact for fields linear over the cells and
    keeps the P2 potential's accuracy: the wire's field to 0.02% inside where the lumped one
    errs by 2.5% (docs/magnetostatics.md). kind "lumped": (f, psi_i)/(1, psi_i), no solve, exact
    for constant fields only (the hat-weighted centre of a node's patch is not the node).
    """

    KINDS = ("l2", "lumped")

    def __init__(self, mesh, cell_tags, tags: Sequence[int] | None, expr, shape: tuple[int, ...],
                 name: str = "field", kind: str = "l2", linear_in: dolfinx.fem.Function | None = None):
        if kind not in self.KINDS:
            raise ValueError(f"projection must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.W = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, shape) if shape else ("Lagrange", 1))
        S = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        n_cells = mesh.topology.index_map(mesh.topology.dim).size_local
        cells = np.arange(n_cells, dtype=np.int32) if tags is None else _owned(mesh, cell_tags, tags)
        dx = ufl.Measure("dx", domain=mesh, subdomain_data=_markers(mesh, [(cells, 1)]))
        lumped = dolfinx.fem.assemble_vector(dolfinx.fem.form(ufl.TestFunction(S) * dx(1)))
        lumped.scatter_reverse(dolfinx.la.InsertMode.add)
        lumped.scatter_forward()
        bs = int(np.prod(shape)) if shape else 1
        m = np.repeat(lumped.array, bs)
        self.inside = m > 0  # owned and ghost entries (block-expanded)
        w = ufl.TestFunction(self.W)
        self.source = linear_in
        if linear_in is None:
            self.L = dolfinx.fem.form(ufl.inner(expr, w) * dx(1))
        else:  # expr is linear in that Function: (expr, w) is a matrix times its vector
            trial = ufl.TrialFunction(linear_in.function_space)
            self.L = dolfinx.fem.petsc.assemble_matrix(
                dolfinx.fem.form(ufl.inner(ufl.replace(expr, {linear_in: trial}), w) * dx(1)))
            self.L.assemble()
        self.out = dolfinx.fem.Function(self.W, name=name)
        self.b = dolfinx.fem.petsc.create_vector(self.W)
        self.iterations = 0
        self.seconds = 0.0
        self._history: list[np.ndarray] = []  # the last fields, while calls extrapolate
        if kind == "lumped":
            self._inv = np.where(self.inside, 1.0 / np.where(self.inside, m, 1.0), 0.0)
            return
        # The zero term over the other cells puts their nodes' diagonals in the sparsity
        # pattern, so a 1 can go there: those nodes then get the value 0.
        zero = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(0.0))
        u = ufl.TrialFunction(self.W)
        self.M = dolfinx.fem.petsc.assemble_matrix(
            dolfinx.fem.form(ufl.inner(u, w) * dx(1) + zero * ufl.inner(u, w) * dx(0)))
        self.M.assemble()
        diag = self.M.createVecLeft()
        diag.array[:] = np.where(self.inside[:diag.getLocalSize()], 0.0, 1.0)
        self.M.setDiagonal(diag, addv=PETSc.InsertMode.ADD_VALUES)
        diag.destroy()
        self.ksp = PETSc.KSP().create(mesh.comm)
        self.ksp.setOperators(self.M)
        self.ksp.setType("cg")
        self.ksp.getPC().setType("jacobi")
        self.ksp.setTolerances(rtol=PROJECTION_RTOL, atol=0.0, max_it=1000)
        self.ksp.setInitialGuessNonzero(True)

    def __call__(self, extrapolate: bool = False) -> dolfinx.fem.Function:
        """The projected field. extrapolate: this call is the next of a sequence of equal steps
        (the LLG's): CG starts from the parabola through the last three such fields (11
        Jacobi-CG iterations instead of 15 from the last one on SP4); a call without it starts
        the history again."""
        t0 = time.perf_counter()
        h = self.out.x.array
        past = self._history if extrapolate else []
        if len(past) == 3:
            h[:] = 3.0 * (past[2] - past[1]) + past[0]
        if self.source is not None:
            self.L.mult(self.source.x.petsc_vec, self.b)
        else:
            with self.b.localForm() as loc:
                loc.set(0.0)
            dolfinx.fem.petsc.assemble_vector(self.b, self.L)
            self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        if self.kind == "lumped":
            n = self.b.getLocalSize()
            self.out.x.array[:n] = self.b.array * self._inv[:n]
        else:
            self.ksp.solve(self.b, self.out.x.petsc_vec)
            self.iterations = self.ksp.getIterationNumber()
            reason = self.ksp.getConvergedReason()
            if reason <= 0:
                raise SolverError("the field's projection did not converge: PETSc reason "
                                  f"{reason_name(reason)}")
        self.out.x.scatter_forward()
        self._history = (past + [h.copy()])[-3:] if extrapolate else []
        self.seconds = self.out.function_space.mesh.comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        return self.out

    def destroy(self) -> None:
        self.b.destroy()
        if self.source is not None:
            self.L.destroy()
        if self.kind == "l2":
            self.ksp.destroy()
            self.M.destroy()


def _domain_args(domain, names: Sequence[str]) -> dict:
    """The mesh, tags and shell of a Domain from fem_spin.geometry.air.build_embedded."""
    missing = [n for n in (*names, "shell") if n not in domain.cells]
    if missing or "R1" not in domain.info:
        raise ValueError(f"the domain has no {missing or 'shell radii'} (cells: {sorted(domain.cells)}); "
                         "build it with fem_spin.geometry.air.build_embedded")
    return dict(mesh=domain.mesh, cell_tags=domain.cell_tags, shell_tag=domain.cells["shell"],
                R1=domain.info["R1"], R2=domain.info["R2"], center=domain.info["center"])


class DemagField:
    """The demagnetizing field H_d = -grad phi of M = Ms u in the magnets (0 elsewhere).

    lap phi = div M in the weak sense (grad phi, grad v) = (M, grad v)_magnets, which holds
    the magnets' surface charges M.n too; solved with the shell transformation (ShellPoisson).

    Args:
        mesh: the mesh (nm), e.g. from fem_spin.geometry.air.build_embedded.
        cell_tags: its cell tags.
        magnets: {tag: Ms [A/m]} of each magnet region.
        shell_tag, R1, R2, center: the shell (nm).
        degree: of phi (2).
        projection: "l2" or "lumped" (CellProjection) for the P1 field.
        **shell: mapping, power, quadrature_degree, petsc_options of ShellPoisson.

    Attributes:
        u: the direction used last (P1 vector, gdim components).
        phi: the potential (A/m * nm).
        H: the last field [A/m] (P1 vector on the mesh, nonzero at the magnets' nodes only).
        timings: setup_s (assembly + GAMG, once); of the last evaluation iterations, solve_s
            (CG), rhs_solve_s (right side + CG) and project_s.
    """

    def __init__(self, mesh, cell_tags, magnets: Mapping[int, float], shell_tag: int, R1: float,
                 R2: float, center: Sequence[float] = (0.0, 0.0, 0.0), *, degree: int = 2,
                 projection: str = "l2", **shell):
        self.source = Magnetization(mesh, cell_tags, magnets)
        self.mesh, self.cell_tags, self.projection = mesh, cell_tags, projection
        self.magnet_tags = self.source.tags
        self.poisson = ShellPoisson(mesh, cell_tags, shell_tag, R1, R2, center, degree=degree,
                                    name="demag", **shell)
        d = mesh.geometry.dim
        self.U, self.u, self.Ms, self.dxm, self.M = (self.source.U, self.source.u, self.source.Ms,
                                                     self.source.dxm, self.source.M)
        self.phi = dolfinx.fem.Function(self.poisson.V, name="phi")
        v = ufl.TestFunction(self.poisson.V)
        # The right side (M, grad v) is linear in u: a matrix, assembled once, times u's vector
        # (an assembly over the magnets' P2 cells each time was 1/4 of an evaluation's cost)
        self.L = dolfinx.fem.petsc.assemble_matrix(dolfinx.fem.form(
            ufl.inner(self.Ms * ufl.TrialFunction(self.U), ufl.grad(v)) * self.dxm))
        self.L.assemble()
        self.project = CellProjection(mesh, cell_tags, self.magnet_tags, -ufl.grad(self.phi), (d,), "H_d",
                                      projection, linear_in=self.phi)
        self.H = self.project.out
        self.source.bind(self.phi)
        self.volume = self.source.volume  # nm^3 (nm^2 in 2D)
        self._projections: dict = {}
        self._pointwise = None
        self._history: list[np.ndarray] = []  # the last solutions, while `compute` extrapolates
        self.evaluations = 0
        self.timings: dict[str, float] = {"setup_s": self.poisson.setup_s}
        logger.info("demag: P%d potential, %d DOFs, set up in %.2f s; magnets %s", degree,
                    self.poisson.num_dofs, self.poisson.setup_s,
                    ", ".join(f"tag {t} (Ms {ms:.4g} A/m)" for t, ms in magnets.items()))

    @property
    def ksp(self) -> PETSc.KSP:
        """The potential's solver (its tolerance is the one that moves B_d)."""
        return self.poisson.ksp

    @property
    def prefix(self) -> str:
        return self.poisson.prefix

    @classmethod
    def from_domain(cls, domain, magnets: Mapping[str, float], **kwargs) -> DemagField:
        """DemagField on a Domain of build_embedded: `magnets` maps region names to Ms [A/m]."""
        args = _domain_args(domain, list(magnets))
        return cls(magnets={domain.cells[n]: ms for n, ms in magnets.items()}, **args, **kwargs)

    def compute(self, u=None, extrapolate: bool = False) -> dolfinx.fem.Function:
        """H_d [A/m] of M = Ms u, as P1 on the magnets (self.H).

        u: the unit direction, a P1 vector Function on the mesh (copied, e.g. the LLG's u),
        any other Function or a callable x -> (gdim, N) (interpolated); None: the last one.
        extrapolate: u is the next of a sequence of equal steps (the LLG's): CG starts from
        the parabola through the last three such solutions, 3 (phi_n - phi_(n-1)) + phi_(n-2),
        not from phi_n. Only the start changes (CG still meets its tolerance): its error is
        O(dt^3) instead of O(dt), 3.2 iterations a step on SP4 where phi_n took 7 and the
        line through two 3.9. The projection's CG starts from the parabola through the last
        three fields (CellProjection; phi's own tolerance, not the step, limits that start). A
        call without it starts the history again.
        """
        comm = self.mesh.comm
        t0 = time.perf_counter()
        if u is not None:
            self.source.set(u)
        x = self.phi.x.array
        past = self._history if extrapolate else []
        if len(past) == 3:  # the parabola through the last three solutions
            x[:] = 3.0 * (past[2] - past[1]) + past[0]
        elif len(past) == 2:
            x[:] = 2.0 * past[1] - past[0]
        its = self.poisson.solve(self.L, self.phi, source=self.u)
        self._history = (past + [x.copy()])[-3:] if extrapolate else []
        t1 = time.perf_counter()
        self.project(extrapolate=extrapolate)  # its CG from the same kind of parabola
        self.evaluations += 1
        self.timings.update(iterations=its, solve_s=self.poisson.solve_s,
                            rhs_solve_s=comm.allreduce(t1 - t0, op=MPI.MAX), project_s=self.project.seconds)
        logger.debug("demag: %d CG iterations, %.3f s (CG %.3f s), projection %.3f s (%d iterations)", its,
                     self.timings["rhs_solve_s"], self.poisson.solve_s, self.project.seconds,
                     self.project.iterations)
        return self.H

    def energy(self, u=None) -> float:
        """E_d = -(mu0/2) (M, H_d)_magnets = (mu0/2) (M, grad phi)_magnets [J], from phi (not the
        projection); solves first if u is given."""
        if u is not None:
            self.compute(u)
        return self.source.energy()

    def average(self) -> np.ndarray:
        """The magnets' volume average of H_d = -grad phi [A/m] (from phi, not the projection):
        for a uniform u, -<H_d>/Ms is the magnetometric demagnetizing tensor applied to u."""
        return self.source.average()

    def field_on(self, tags: int | Sequence[int] | None) -> dolfinx.fem.Function:
        """-grad phi [A/m] as P1 on other cells, e.g. the air's tag (the stray field; None: every
        cell, where the shell's values are not physical). One projection per set of tags."""
        key = None if tags is None else _tags(tags)
        if key not in self._projections:
            self._projections[key] = CellProjection(self.mesh, self.cell_tags, key, -ufl.grad(self.phi),
                                                    (self.mesh.geometry.dim,), "H", self.projection)
        return self._projections[key]()

    def field_at(self, points: np.ndarray) -> np.ndarray | None:
        """-grad phi [A/m] of the last solve at points (N, 3) [nm] in the air ball (a cell inside
        R1: the meshed ball's facets cut inside the sphere), evaluated in the cell that holds
        each point (no projection); (N, gdim) on rank 0, None elsewhere."""
        self.poisson.check_points(points)
        if self._pointwise is None:
            self._pointwise = _Pointwise(self.mesh, -ufl.grad(self.phi), self.poisson.degree)
        return self._pointwise(points)

    def destroy(self) -> None:
        self.poisson.destroy()
        self.L.destroy()
        self.project.destroy()
        for proj in self._projections.values():
            proj.destroy()


class _Pointwise:
    """An expression of a P_k potential's gradient interpolated into DG_(k-1) (exactly) and
    sampled at points (fem_spin.io.output.sample: rank 0 gets every value)."""

    def __init__(self, mesh, expr, degree: int):
        d = mesh.geometry.dim
        self.Q = dolfinx.fem.functionspace(mesh, ("DG", max(degree - 1, 0), (d,)))
        self.g = dolfinx.fem.Function(self.Q)
        self.expr = dolfinx.fem.Expression(expr, self.Q.element.interpolation_points)

    def __call__(self, points: np.ndarray) -> np.ndarray | None:
        self.g.interpolate(self.expr)
        return sample(self.g, np.asarray(points, float))


class OerstedField:
    """The field B = curl A [T] of a current density j [A/m^2], -lap A = mu0 j per component.

    3D: j a 3-vector (UFL expression or Function) on the conductor cells, three scalar solves
    with one ShellPoisson (a component that is identically zero is skipped). 2D (a cross-section,
    currents along z): j the scalar j_z, one solve for A_z, B = (dA_z/dy, -dA_z/dx).

    The net current of a component, Q_k = int j_k dV, is taken out of the source as a uniform
    density over the air ball and put back in closed form (the potential of a uniform ball or
    disc, G, -lap G = mu0/|ball|). In 2D this is needed: a net current makes A_z grow like ln r,
    which no condition at infinity fits. In 3D a net Q_k (a current segment whose leads are not
    meshed) gives A_k a monopole 1/r, which the shell on tetrahedra truncates at an effective
    radius ~R1 (R2 - R1)/h (the last layer of cells is pinned to 0 by the shell's singular
    tangential coefficient): A_z of a segment was 5% low, B 1% off (docs/magnetostatics.md).
    The remainder has no net current and decays like a dipole. The closed-form part adds
    mu0/(d |ball|) Q x (x - c) to B (3D; mu0 I (-y, x)/(2 |ball|) in 2D), |ball| the mesh's.

    Args:
        mesh, cell_tags: the mesh (nm) and its cell tags.
        conductor_tags: the cells that carry j (j is integrated over these only).
        shell_tag, R1, R2, center: the shell (nm).
        degree: of A (2).
        projection: "l2" or "lumped" (CellProjection).
        source_degree: quadrature degree of the source (j may be any expression of x).
        **shell: mapping, power, quadrature_degree, petsc_options of ShellPoisson.

    Attributes:
        A: the vector potential's components without the uniform part (P2, solving
            -lap A' = mu0 j with nm derivatives; vector_potential_at adds it back).
        net_current: Q [A m] per component in 3D, the current I [A] in 2D.
    """

    def __init__(self, mesh, cell_tags, conductor_tags: int | Sequence[int], shell_tag: int, R1: float,
                 R2: float, center: Sequence[float] = (0.0, 0.0, 0.0), *, degree: int = 2,
                 projection: str = "l2", source_degree: int = 2, **shell):
        self.mesh, self.cell_tags, self.projection = mesh, cell_tags, projection
        self.conductor_tags = _tags(conductor_tags)
        self.shell_tag = int(shell_tag)
        self.poisson = ShellPoisson(mesh, cell_tags, shell_tag, R1, R2, center, degree=degree,
                                    name="oersted", **shell)
        self.dim = mesh.geometry.dim
        self.A = [dolfinx.fem.Function(self.poisson.V, name=f"A_{k}")
                  for k in ("xyz" if self.dim == 3 else "z")]
        # One set of markers (a form takes one per integral type): 1 the conductors, 2 the rest
        # of the ball, 0 the shell.
        conductors = _owned(mesh, cell_tags, self.conductor_tags)
        if mesh.comm.allreduce(len(conductors), op=MPI.SUM) == 0:
            raise ValueError(f"no cells carry the conductor tags {self.conductor_tags}")
        marks = _markers(mesh, [(self.poisson.shell_cells, 0), (conductors, 1)], default=2)
        self.dxc = ufl.Measure("dx", domain=mesh, subdomain_data=marks,
                               metadata={"quadrature_degree": int(source_degree)})(1)
        self.dxb = ufl.Measure("dx", domain=mesh, subdomain_data=marks)((1, 2))
        self._ball = mesh.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(1.0 * self.dxb)),
                                         op=MPI.SUM)  # nm^d
        # Q_k in A/m^2 nm^d, one Constant per component (the uniform part of the source).
        self._Q = [dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(0.0)) for _ in self.A]
        self._j = None
        self._projections: dict = {}
        self._pointwise = None
        self.iterations: list[int] = []
        self.timings: dict[str, float] = {"setup_s": self.poisson.setup_s}
        logger.info("oersted: P%d vector potential, %d DOFs per component, set up in %.2f s", degree,
                    self.poisson.num_dofs, self.poisson.setup_s)

    @classmethod
    def from_domain(cls, domain, conductors: Sequence[str] | str, **kwargs) -> OerstedField:
        """OerstedField on a Domain of build_embedded; `conductors`: region names."""
        names = [conductors] if isinstance(conductors, str) else list(conductors)
        args = _domain_args(domain, names)
        return cls(conductor_tags=[domain.cells[n] for n in names], **args, **kwargs)

    @property
    def net_current(self) -> np.ndarray | float:
        q = np.array([float(c.value) for c in self._Q])
        return q * 1e-27 if self.dim == 3 else float(q[0]) * 1e-18

    def _forms(self, j) -> None:
        if self.dim == 3:
            if ufl.shape(j) != (3,):
                raise ValueError(f"a 3D OerstedField takes a 3-vector j [A/m^2], got shape {ufl.shape(j)}")
            comps = [j[k] for k in range(3)]
        else:
            if ufl.shape(j) not in ((), (1,)):
                raise ValueError("a 2D OerstedField takes the scalar j_z [A/m^2] (currents along z), "
                                 f"got shape {ufl.shape(j)}")
            comps = [j if ufl.shape(j) == () else j[0]]
        v = ufl.TestFunction(self.poisson.V)
        self.L, self._Q_forms = [], []
        for jk, Qk in zip(comps, self._Q):
            source = MU0 * jk * v * self.dxc
            if source.empty() or not source.arguments():  # identically zero: nothing to solve
                self.L.append(None)
                self._Q_forms.append(None)
                continue
            # mu0 (j_k - Q_k/|ball|): no net current left
            self.L.append(dolfinx.fem.form(source - MU0 * Qk * (1.0 / self._ball) * v * self.dxb))
            self._Q_forms.append(dolfinx.fem.form(jk * self.dxc))
        self._j = j

    def compute(self, j=None, cells: int | Sequence[int] | None = None) -> dolfinx.fem.Function:
        """B [T] as a P1 vector (gdim components) on `cells` (tags; default every cell of the air
        ball), 0 at the other nodes. j: the current density (None: the last one, with the
        current values of its Functions and Constants)."""
        if j is not None and j is not self._j:
            self._forms(j)
        if self._j is None:
            raise ValueError("OerstedField.compute needs the current density j the first time")
        comm = self.mesh.comm
        t0 = time.perf_counter()
        self.iterations = []
        for L, Qf, Q, A in zip(self.L, self._Q_forms, self._Q, self.A):
            if L is None:
                Q.value = 0.0
                A.x.array[:] = 0.0
                self.iterations.append(0)
            else:
                Q.value = comm.allreduce(dolfinx.fem.assemble_scalar(Qf), op=MPI.SUM)
                self.iterations.append(self.poisson.solve(L, A))
        t1 = time.perf_counter()
        key = self._key(cells)
        if key not in self._projections:
            self._projections[key] = CellProjection(self.mesh, self.cell_tags, key, self._curl(),
                                                    (self.dim,), "B", self.projection)
        proj = self._projections[key]
        B = proj()
        x = B.function_space.tabulate_dof_coordinates()
        vals = B.x.array.reshape(-1, self.dim)
        inside = proj.inside.reshape(-1, self.dim)[:, 0]
        vals[inside] += self._uniform_field(x[inside])
        B.x.scatter_forward()
        self.timings.update(iterations=sum(self.iterations), rhs_solve_s=comm.allreduce(t1 - t0, op=MPI.MAX),
                            project_s=proj.seconds)
        return B

    def field_at(self, points: np.ndarray) -> np.ndarray | None:
        """B [T] of the last solve at points (N, 3) [nm] in the air ball, evaluated in the cell
        that holds each point (no projection); (N, gdim) on rank 0, None elsewhere."""
        self.poisson.check_points(points)
        if self._pointwise is None:
            self._pointwise = _Pointwise(self.mesh, self._curl(), self.poisson.degree)
        vals = self._pointwise(points)
        return None if vals is None else vals + self._uniform_field(np.asarray(points, float))

    def vector_potential_at(self, points: np.ndarray) -> np.ndarray | None:
        """A' (with the uniform part; -lap A' = mu0 j in nm, so B = 1e-9 curl A') at points in the
        air ball: (N, components) on rank 0, None elsewhere."""
        self.poisson.check_points(points)
        vals = [sample(A, np.asarray(points, float)) for A in self.A]
        if vals[0] is None:
            return None
        rel = np.asarray(points, float)[:, :self.dim] - np.asarray(self.poisson.center[:self.dim])
        r2 = np.sum(rel**2, axis=1)
        rho = 1.0 / self._ball
        # G: -lap G = mu0 rho in a ball of the mesh's volume (radius Rb, the polyhedral ball's
        # is 1% short of R1 on coarse meshes), mu0/(4 pi Rb) on its surface in 3D as the exterior
        # monopole's; 0 there in 2D (A_z is defined up to a constant)
        if self.dim == 3:
            Rb = (3 * self._ball / (4 * np.pi)) ** (1 / 3)
            G = MU0 * rho * (3 * Rb**2 - r2) / 6
        else:
            Rb = np.sqrt(self._ball / np.pi)
            G = MU0 * rho * (Rb**2 - r2) / 4
        return np.column_stack([v[:, 0] + float(Q.value) * G for v, Q in zip(vals, self._Q)])

    def _key(self, cells) -> tuple[int, ...]:
        if cells is not None:
            return _tags(cells)
        n = self.mesh.topology.index_map(self.mesh.topology.dim).size_local
        local = {int(t) for t in self.cell_tags.values[self.cell_tags.indices < n]}
        return tuple(sorted(set().union(*self.mesh.comm.allgather(local)) - {self.shell_tag}))

    def _curl(self):
        A = self.A
        if self.dim == 3:
            return 1e-9 * ufl.as_vector([A[2].dx(1) - A[1].dx(2), A[0].dx(2) - A[2].dx(0),
                                         A[1].dx(0) - A[0].dx(1)])
        return 1e-9 * ufl.as_vector([A[0].dx(1), -A[0].dx(0)])

    def _uniform_field(self, x: np.ndarray) -> np.ndarray:
        """curl of the uniform part's potential [T] at x (N, >= gdim) [nm]: mu0 Q x (x - c)/(3 |ball|)
        in 3D, mu0 Q (-y, x)/(2 |ball|) in 2D (x - c in nm, Q in A/m^2 nm^d: the 1e-9 of
        B = 1e-9 curl A')."""
        rel = x[:, :self.dim] - np.asarray(self.poisson.center[:self.dim])
        q = np.array([float(Q.value) for Q in self._Q])
        if self.dim == 3:
            return 1e-9 * MU0 / (3 * self._ball) * np.cross(q, rel)
        return 1e-9 * MU0 * q[0] / (2 * self._ball) * np.column_stack([-rel[:, 1], rel[:, 0]])

    def destroy(self) -> None:
        self.poisson.destroy()
        for proj in self._projections.values():
            proj.destroy()
