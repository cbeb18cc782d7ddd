"""Linear solvers: presets of PETSc options, and a solve that checks convergence.

Every solver gets its own options prefix (``fem_spin_<name>_``), so options given
on the command line as ``-fem_spin_<name>_ksp_type gmres`` or through
``petsc_options`` reach only that solver.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping

from fem_spin._backend import PETSc, dolfinx
from fem_spin.progress import logger

PRESETS: dict[str, dict[str, object]] = {
    # Robust default: MUMPS LU of the non-symmetric operator.
    "direct": {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps",
               "mat_mumps_icntl_14": 200},
    # GMRES + two-level p-multigrid (fem_spin.solvers.precond.PMultigrid), degree >= 2: P1 on the same
    # mesh solved by MUMPS LU, one damped point-block Jacobi step on P_k before and after.
    # The scalable one: converges for a0 = beta from 1 to 100 with iterations that fall under
    # refinement (docs/benchmark.md).
    "iterative": {"ksp_type": "gmres", "ksp_pc_side": "right", "ksp_gmres_restart": 200,
                  "ksp_rtol": 1e-10, "ksp_max_it": 1000,
                  "pc_type": "mg", "pc_mg_levels": 2, "pc_mg_galerkin": "none",
                  "mg_coarse_ksp_type": "preonly", "mg_coarse_pc_type": "lu",
                  "mg_coarse_pc_factor_mat_solver_type": "mumps", "mg_coarse_mat_mumps_icntl_14": 200,
                  # block-low-rank coarse LU (dropping 1e-5): same iterations, 9% faster and 7%
                  # lighter at 1.4M DOFs, more at larger sizes (docs/benchmark.md)
                  "mg_coarse_mat_mumps_icntl_35": 1, "mg_coarse_mat_mumps_cntl_7": 1e-5,
                  "mg_levels_ksp_type": "richardson", "mg_levels_ksp_max_it": 1,
                  "mg_levels_ksp_richardson_scale": 0.5, "mg_levels_pc_type": "pbjacobi"},
    # GMRES preconditioned by a block-low-rank (BLR) MUMPS factorization dropping at
    # 1e-5: 40% less time and memory than exact LU at 5e5 DOFs, 5-7 iterations up to
    # 1e6 DOFs (1e-4 needed 50 there); for P1, where "iterative" has no coarse level. The
    # transverse block is Helmholtz-like and defeats GAMG, ILU and ASM (docs/benchmark.md).
    "blr": {"ksp_type": "gmres", "ksp_gmres_restart": 100, "ksp_rtol": 1e-10, "ksp_max_it": 500,
            "pc_type": "lu", "pc_factor_mat_solver_type": "mumps", "mat_mumps_icntl_14": 200,
            "mat_mumps_icntl_35": 1, "mat_mumps_cntl_7": 1e-5},
    # FGMRES + the A-scaled shifted Laplacian with GAMG (fem_spin.solvers.precond): mesh-independent
    # and cheap for moderate exchange (a0 beta <= 100), fails for the paper's a0 = beta = 100.
    "shifted": {"ksp_type": "fgmres", "ksp_gmres_restart": 200, "ksp_rtol": 1e-10,
                "ksp_max_it": 1000},
}

_counter = itertools.count()


class SolverError(RuntimeError):
    """The linear solve failed; the message names PETSc's reason and what to try."""


def reason_name(reason: int) -> str:
    names = {v: k for k, v in vars(PETSc.KSP.ConvergedReason).items() if isinstance(v, int)}
    return names.get(reason, str(reason))


def resolve_options(preset: str, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
    """The preset's options with the user's overrides on top."""
    if preset not in PRESETS:
        raise ValueError(f"solver.preset must be one of {sorted(PRESETS)}, got {preset!r}")
    opts = dict(PRESETS[preset])
    opts.update(overrides or {})
    return opts


class LinearSolver:
    """Assembles a(u, v) = L(v) with Dirichlet conditions and solves it with a KSP.

    The matrix is assembled once (`assemble_matrix`); `solve` may be called many
    times with the same matrix (time stepping) and reassembles only the vector.
    """

    def __init__(self, a, L, bcs, preset: str = "direct",
                 petsc_options: Mapping[str, object] | None = None, name: str = "spin",
                 shell_pc=None):
        V = L.arguments()[0].ufl_function_space()
        self.a = dolfinx.fem.form(a)
        self.L = dolfinx.fem.form(L)
        self.bcs = list(bcs)
        self.options = resolve_options(preset, petsc_options)
        self.preset = preset
        self.prefix = f"fem_spin_{name}{next(_counter)}_"
        self.A = dolfinx.fem.petsc.create_matrix(self.a)
        self.b = dolfinx.fem.petsc.create_vector(V)
        self.ksp = PETSc.KSP().create(self.A.comm)
        self.ksp.setOptionsPrefix(self.prefix)
        opts = PETSc.Options()
        opts.prefixPush(self.prefix)
        for key, value in self.options.items():
            opts[key] = value
        opts.prefixPop()
        self.ksp.setOperators(self.A)
        self.ksp.setFromOptions()  # command-line -fem_spin_*_ options win over presets
        self.shell = shell_pc(self.prefix, self.bcs) if shell_pc is not None else None
        if self.shell is not None:
            self.shell.attach(self.ksp)
        self.iterations = 0
        self._assembled = False
        self.ksp.setMonitor(self._progress)
        self._t0 = self._last = 0.0
        self._r0 = 1.0

    # Seconds between progress lines during a long solve (rank 0; short solves stay silent).
    PROGRESS_INTERVAL = 5.0

    def _progress(self, ksp, its: int, rnorm: float) -> None:
        """A line every PROGRESS_INTERVAL s: iteration, residual relative to the first, time.
        Plain log lines (no carriage returns), so a batch job's log reads the same as a terminal."""
        now = time.perf_counter()
        if its == 0:
            self._r0 = rnorm or 1.0
            if now - self._t0 > self.PROGRESS_INTERVAL:  # the set-up (e.g. a factorization) was long
                logger.info("  solve: preconditioner ready after %.1f s, iterating", now - self._t0)
                self._last = now
            return
        if now - self._last > self.PROGRESS_INTERVAL:
            rtol = ksp.getTolerances()[0]
            logger.info("  solve: iteration %d, residual %.1e of the initial (target %.0e), %.1f s",
                        its, rnorm / self._r0, rtol, now - self._t0)
            self._last = now

    def assemble_matrix(self) -> None:
        self.A.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(self.A, self.a, bcs=self.bcs)
        self.A.assemble()
        self._assembled = True
        if self.shell is not None and hasattr(self.shell, "operator_assembled"):
            self.shell.operator_assembled(self.A)

    def assemble_vector(self) -> None:
        with self.b.localForm() as b_local:
            b_local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(self.b, self.L)
        dolfinx.fem.petsc.apply_lifting(self.b, [self.a], bcs=[self.bcs])
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(self.b, self.bcs)

    def solve(self, u: dolfinx.fem.Function) -> dolfinx.fem.Function:
        """Solve into u; raise SolverError unless PETSc reports convergence."""
        if not self._assembled:
            self.assemble_matrix()
        self.assemble_vector()
        self._t0 = self._last = time.perf_counter()
        try:
            self.ksp.solve(self.b, u.x.petsc_vec)
        except PETSc.Error as exc:
            raise SolverError(
                f"PETSc failed in the '{self.preset}' solve (error code {exc.ierr}); "
                "try solver.preset = 'direct' or check the case's parameters") from None
        u.x.scatter_forward()
        reason = self.ksp.getConvergedReason()
        self.iterations = self.ksp.getIterationNumber()
        if reason <= 0:
            degree = self.L.function_spaces[0].element.basix_element.degree
            other = "direct" if self.preset != "direct" else ("iterative" if degree >= 2 else "blr")
            raise SolverError(
                f"linear solve did not converge: PETSc reason {reason_name(reason)} ({reason}) "
                f"after {self.iterations} iterations with preset '{self.preset}'; "
                f"try solver.preset = '{other}' or other PETSc options")
        logger.debug("KSP %s: %s in %d iterations", self.prefix, reason_name(reason), self.iterations)
        return u

    def destroy(self) -> None:
        for obj in (self.ksp, self.A, self.b):
            obj.destroy()
        if self.shell is not None:
            self.shell.release()
        opts = PETSc.Options()
        for key in list(self.options):
            opts.delValue(f"-{self.prefix}{key}")
