"""A spin-accumulation problem: domain + material + magnetization + conditions -> m."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fem_spin._backend import dolfinx, ufl
from fem_spin.physics.coefficients import Coefficients, Region, regions_of
from fem_spin.physics.forms import SpinForm
from fem_spin.physics.material import Material
from fem_spin.geometry.mesh import Domain
from fem_spin.solvers.precond import PMultigrid, ShiftedLaplacian, require_coarsenable
from fem_spin.progress import logger, stage
from fem_spin.solvers.linear import LinearSolver


@dataclass(kw_only=True)
class SpinProblem:
    """The steady problem of MODEL.md on a tagged domain.

    Either one material everywhere (`material`, `magnetization`, `B`, `m_eq`) or a device of
    `regions` (cell-group name -> `Region`, or (cells, Region) pairs).

    Attributes:
        domain: the mesh with named cell and facet tags.
        material: physical parameters (one-material problems; with regions, the first one's).
        magnetization: callable x -> M/M0 (see `fem_spin.physics.magnetization`).
        regions: the device's regions (overrides material/magnetization/B/m_eq).
        B: applied field [T] (one-material problems).
        degree: Lagrange degree of m (1 or 2).
        dirichlet: facet-tag name -> fixed value of m on it.
        neumann: facet-tag name -> outward normal spin current J.n [m/s] (3 spin components);
            zero spin current on every other boundary.
        m_eq: "zero" (the slab: ends drive it) or "magnetization" (m_eq = M/M0, the ring).
        current: charge current density j_e [A/m^2] driving the accumulation through the
            regions' polarization: a 3-vector (uniform) or a Function (e.g. from
            `fem_spin.physics.potential.solve_potential`); None for the paper's normalised mode.
        solver: preset name (see `fem_spin.solvers.linear.PRESETS`).
        petsc_options: PETSc options on top of the preset.
        quadrature_degree: None for the default 2 degree + 1.
        initial_guess: a checkpoint folder (fem_spin.io.checkpoint) of m on the same mesh to
            start the iterative solve from.
    """

    domain: Domain
    material: Material | None = None
    magnetization: object = None
    regions: Mapping[str, Region] | list | None = None
    B: tuple[float, float, float] = (0.0, 0.0, 0.0)
    degree: int = 1
    dirichlet: Mapping[str, np.ndarray] = field(default_factory=dict)
    neumann: Mapping[str, np.ndarray] = field(default_factory=dict)
    m_eq: str = "zero"
    current: object = None
    solver: str = "direct"
    petsc_options: Mapping[str, object] | None = None
    quadrature_degree: int | None = None
    initial_guess: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.degree not in (1, 2, 3):
            raise ValueError(f"discretization.degree must be 1, 2 or 3, got {self.degree!r}")
        if self.solver == "iterative":
            require_coarsenable(self.degree)
        for name in (*self.dirichlet, *self.neumann):
            if name not in self.domain.facets:
                raise ValueError(f"boundary {name!r} is not a facet group of the mesh "
                                 f"(it has {sorted(self.domain.facets)})")
        if self.regions is None:
            if self.material is None:
                raise ValueError("SpinProblem needs a material (or regions)")
            pairs = [(None, Region(material=self.material, magnetization=self.magnetization,
                                   B=tuple(self.B), m_eq=self.m_eq))]
        elif isinstance(self.regions, Mapping):
            pairs = regions_of(self.domain, self.regions)
            self.regions = dict(self.regions)
        else:
            pairs = list(self.regions)
        if self.material is None:
            self.material = pairs[0][1].material
        mesh = self.domain.mesh
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", self.degree, (3,)))
        self.coef = Coefficients(mesh, self.degree, pairs,
                                 t0=self.material.tau_sf if self.regions is None else None)
        # M/M0 in the space of m, for output and the shifted preconditioner's nodal tensors.
        self.M = dolfinx.fem.Function(self.V, name="M")
        self.M.interpolate(self.coef.M)
        self.M.x.scatter_forward()
        ds = ufl.Measure("ds", domain=mesh, subdomain_data=self.domain.facet_tags)
        j_e = self.current
        if j_e is not None and not isinstance(j_e, dolfinx.fem.Function):
            j_e = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(tuple(np.asarray(j_e, float))))
        self.form = SpinForm(self.V, self.coef, quadrature_degree=self.quadrature_degree,
                             neumann=[(ds(self.domain.facets[n]), np.asarray(v, dtype=float))
                                      for n, v in self.neumann.items()],
                             drift=None if j_e is None else self.coef.drift(j_e))
        self.m = dolfinx.fem.Function(self.V, name="m")

    @property
    def num_dofs(self) -> int:
        return self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs

    def boundary_conditions(self, space=None) -> list[dolfinx.fem.DirichletBC]:
        """The Dirichlet conditions on V (or on another 3-vector space on the same mesh)."""
        space = self.V if space is None else space
        mesh, tags = self.domain.mesh, self.domain.facet_tags
        fdim = mesh.topology.dim - 1
        bcs = []
        for name, value in self.dirichlet.items():
            facets = tags.find(self.domain.facets[name])
            dofs = dolfinx.fem.locate_dofs_topological(space, fdim, facets)
            val = np.asarray(value, dtype=dolfinx.default_scalar_type)
            bcs.append(dolfinx.fem.dirichletbc(val, dofs, space))
        return bcs

    def make_solver(self, a=None, L=None) -> LinearSolver:
        """The solver of `a = L` (default: the steady problem) with this problem's preset."""
        shell = None
        if self.solver == "iterative":
            def shell(prefix, bcs):  # noqa: ARG001 - the coarse level needs its own conditions
                # The dispersion correction is built from the steady reaction; a transient
                # operator (a given) gets the plain Galerkin coarse level.
                return PMultigrid(self.form, self.boundary_conditions, prefix,
                                  lumping=0.5 if a is None else 0.0)
        elif self.solver == "shifted":
            def shell(prefix, bcs):
                return ShiftedLaplacian(self.V, self.M, self.material, bcs, prefix)
        return LinearSolver(a if a is not None else self.form.bilinear(),
                            L if L is not None else self.form.linear(),
                            self.boundary_conditions(), self.solver, self.petsc_options,
                            shell_pc=shell)

    def solve(self) -> dolfinx.fem.Function:
        """Assemble and solve; logs the stages with timings and the DOF count."""
        logger.info("%d DOFs (P%d, 3 components) on %d ranks, quadrature degree %d (diffusion %d)",
                    self.num_dofs, self.degree, self.domain.comm.size, self.form.quadrature_degree,
                    self.form.diffusion_quadrature_degree)
        with stage("assemble", self.domain.comm, self.timings):
            solver = self.make_solver()
            solver.assemble_matrix()
        try:
            if self.initial_guess is not None:
                from fem_spin.io.checkpoint import read_checkpoint

                read_checkpoint(checkpoint_folder(self.initial_guess), {"m": self.m})
                solver.ksp.setInitialGuessNonzero(True)
                logger.info("initial guess: m of %s", self.initial_guess)
            with stage("solve", self.domain.comm, self.timings):
                solver.solve(self.m)
            self.iterations = solver.iterations
            logger.info("solver '%s': %d iterations", self.solver, self.iterations)
        finally:
            solver.destroy()
        return self.m

    def torque(self) -> ufl.core.expr.Expr:
        """T = -omega0 M/M0 x m [1/s] (the LL-equation torque on M, Eq. 79)."""
        return self.coef.torque(self.m)

    def spin_current(self) -> ufl.core.expr.Expr:
        """J^{kj} = -Dt^{kp} d_j m^p in m/s (per unit m)."""
        return self.form.spin_current(self.m)


def checkpoint_folder(path) -> str:
    """A result folder's checkpoint/ or the checkpoint folder itself."""
    from pathlib import Path

    return str(Path(path) / "checkpoint") if (Path(path) / "checkpoint").is_dir() else str(path)


def slab_problem(domain: Domain, material: Material, profile, **kwargs) -> SpinProblem:
    """The paper's CPP slab: m = -u_L at the left end, +u_R at the right end, m_eq = 0."""
    u_l, u_r = profile.end_directions()
    return SpinProblem(domain=domain, material=material, magnetization=profile,
                       dirichlet={"left_end": -u_l, "right_end": u_r}, m_eq="zero", **kwargs)
