"""Linear solvers: presets of PETSc options, and a solve that checks convergence.

Every solver gets its own options prefix (``fem_spin_<name>_``), so options given
on the command line as ``-fem_spin_<name>_ksp_type gmres`` or through
``petsc_options`` reach only that solver.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping

import numpy as np

from fem_spin._backend import MPI, PETSc, dolfinx, ufl
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


TARGETED = "fem_spin_"  # the start of every solver's own prefix
_DEFAULTS: set[str] = set()  # the options prefixed_ksp put into the database (not given)


def route_options(options: Mapping[str, object] | None) -> dict[str, object]:
    """Split a case's PETSc options: those named with a solver's own prefix (e.g.
    `fem_spin_demag0_ksp_rtol`, `fem_spin_spin0_ksp_monitor`) go into PETSc's options database,
    where that solver finds them when it is made (`prefixed_ksp`); the others, returned, are
    the electron solver's. Without this, `fem-spin run case.toml -- -fem_spin_demag0_...` put
    the option under the electron solver's prefix, where nothing read it."""
    opts = PETSc.Options()
    rest = {}
    for key, value in (options or {}).items():
        if str(key).startswith(TARGETED):
            opts[key] = value
            _DEFAULTS.discard(key)
        else:
            rest[key] = value
    return rest


def given(name: str) -> bool:
    """Whether the options database holds `name` (prefix + key) from the user (the command
    line, PETSC_OPTIONS, a case's options), not as a fem_spin default."""
    return PETSc.Options().hasName(name) and name not in _DEFAULTS


def prefixed_ksp(A: PETSc.Mat, prefix: str, options: Mapping[str, object], keep: bool = True) -> PETSc.KSP:
    """A KSP on A whose options live under its own prefix: `options` are its defaults, put
    there unless the options database already has the key (the command line's, PETSC_OPTIONS'
    or a case's -<prefix>... options, `route_options`), which win over them. keep = False takes
    the defaults out again once read (a prefix that is used again, with other defaults)."""
    ksp = PETSc.KSP().create(A.comm)
    ksp.setOptionsPrefix(prefix)
    opts = PETSc.Options()
    put = []
    for key, value in options.items():
        if not opts.hasName(prefix + key):
            opts[prefix + key] = value
            put.append(prefix + key)
        else:  # given: the value there is not (or no longer) one of ours
            _DEFAULTS.discard(prefix + key)
    ksp.setOperators(A)
    ksp.setFromOptions()
    for name in put:
        if keep:
            _DEFAULTS.add(name)
        else:
            opts.delValue(name)
    return ksp


def restrict(form: ufl.Form, cell_tags, ident: int | tuple[int, ...]) -> ufl.Form:
    """The form's cell integrals on the cells tagged `ident` (one tag or several) only
    (metadata kept)."""
    integrals = []
    for itg in form.integrals():
        if itg.integral_type() != "cell" or itg.subdomain_id() not in ("everywhere", "otherwise"):
            raise ValueError("restrict: only forms of plain cell integrals can be split by cells")
        integrals.append(itg.reconstruct(subdomain_id=ident, subdomain_data=cell_tags))
    return ufl.Form(integrals)


class SolverError(RuntimeError):
    """The linear solve failed; the message names PETSc's reason and what to try."""


class CSRAssembly:
    """Assembly of forms with a's sparsity into the PETSc matrix A through DOLFINx's own CSR
    matrix: its insertion is ~3x faster than PETSc's MatSetValues (0.54 vs 1.60 s for P2
    vectors on 6e4 cells), and the values reach A in one MatSetValuesCOO. Sets A's COO
    preallocation; costs a second copy of A's values and PETSc's COO maps."""

    def __init__(self, A: PETSc.Mat, a) -> None:
        self.A = A
        self.native = native = dolfinx.fem.create_matrix(a)  # blocked CSR, owned and ghost rows
        b0, b1 = native.block_size
        rows, cols = native.index_map(0), native.index_map(1)
        n = rows.size_local
        ptr = native.indptr
        nnz = int(ptr[n])
        brow = rows.local_to_global(np.repeat(np.arange(n, dtype=np.int32), np.diff(ptr[: n + 1])))
        bcol = cols.local_to_global(native.indices[:nnz].astype(np.int32))
        # the entries of the owned rows in native.data's order: block (row, col), then a, b
        i = b0 * brow[:, None, None] + np.arange(b0)[None, :, None] + 0 * np.arange(b1)[None, None, :]
        j = b1 * bcol[:, None, None] + 0 * np.arange(b0)[None, :, None] + np.arange(b1)[None, None, :]
        self._owned = nnz * b0 * b1
        A.setPreallocationCOO(i.reshape(-1).astype(PETSc.IntType), j.reshape(-1).astype(PETSc.IntType))

    def assemble(self, form, base: np.ndarray | None = None, bcs=()) -> None:
        """A = form's matrix (plus `base`, values in the CSR's order, e.g. a part assembled
        once); A.assemble() is the caller's."""
        native = self.native
        native.data[:] = 0.0 if base is None else base
        dolfinx.fem.assemble_matrix(native, form, bcs=list(bcs))
        native.scatter_reverse()
        self.A.setValuesCOO(native.data[: self._owned], addv=PETSc.InsertMode.INSERT_VALUES)


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
        self.a_ufl = a
        self.a = dolfinx.fem.form(a)
        self.L = dolfinx.fem.form(L)
        self.bcs = list(bcs)
        self.options = resolve_options(preset, petsc_options)
        self.given_options = frozenset(petsc_options or ())  # the case's own, over the preset's
        self.preset = preset
        self.prefix = f"fem_spin_{name}{next(_counter)}_"
        self.A = dolfinx.fem.petsc.create_matrix(self.a)
        self.b = dolfinx.fem.petsc.create_vector(V)
        self.ksp = prefixed_ksp(self.A, self.prefix, self.options)
        self.shell = shell_pc(self.prefix, self.bcs) if shell_pc is not None else None
        if self.shell is not None:
            self.shell.attach(self.ksp)
        self.iterations = 0
        self._assembled = False
        # Time stepping (issue 19): the part of `a` on cells whose coefficients never change,
        # assembled once (`split`), and a preconditioner kept across reassemblies (`reuse`).
        self._fixed = self._a_moving = self._native = None
        self._owned = 0
        self.reusing = False
        self._fresh = {"iterations": 0, "seconds": 0.0, "setup": 0.0}  # the last fresh solve
        self._excess = 0.0  # seconds of iterations beyond the fresh count since the last build
        self._rebuild = True
        self._kept = False
        self.rebuilds = 0
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

    def split(self, cell_tags, moving: int, fixed: tuple[int, ...]) -> None:
        """Only the cells tagged `moving` in `cell_tags` (meshtags of every cell; the others
        are tagged one of `fixed`) have coefficients that change between assemblies (a moving
        magnet's). Then `assemble_matrix`
        starts from a on the other cells, assembled once, and adds a on the tagged cells only.
        Both go through DOLFINx's own CSR matrix (its insertion is ~3x faster than PETSc's
        MatSetValues for P2 vectors) and reach A in one MatSetValuesCOO. Call before the first
        assembly. Costs two more copies of A's values and PETSc's COO maps."""
        self._a_moving = dolfinx.fem.form(restrict(self.a_ufl, cell_tags, moving))
        self._native = CSRAssembly(self.A, self.a)
        native = self._native.native
        dolfinx.fem.assemble_matrix(native, dolfinx.fem.form(restrict(self.a_ufl, cell_tags, fixed)),
                                    bcs=self.bcs)
        self._fixed = native.data.copy()  # before the ghost rows are sent: summed each time

    def reuse(self) -> None:
        """Keep the preconditioner across reassemblies while it pays: a kept one is rebuilt when
        the time its extra iterations have cost since the last build (against that build's
        count) exceeds what the build itself cost (set-up in the assembly and in the solve),
        the rule that is never worse than twice the best schedule in hindsight. A direct solve
        ("preonly") becomes GMRES preconditioned by the kept factorization (one iteration while
        fresh, a few as the operator drifts). Times are the slowest rank's (one decision)."""
        if self.ksp.getType() == "preonly":
            self.ksp.setType("gmres")
            # given ones win (a preonly KSP did not read them); the database holds their values
            opts = PETSc.Options(self.prefix)
            self.ksp.setTolerances(rtol=opts.getReal("ksp_rtol") if self.user_set("ksp_rtol") else 1e-10,
                                   max_it=opts.getInt("ksp_max_it") if self.user_set("ksp_max_it") else 200)
        self.reusing = True

    def user_set(self, key: str) -> bool:
        """Whether the user chose this solver's option `key` (e.g. "ksp_rtol"): in the case's
        [solver] petsc_options, or under its prefix on the command line or in PETSC_OPTIONS;
        not a preset's default."""
        return key in self.given_options or given(self.prefix + key)

    def assemble_matrix(self) -> None:
        if self._fixed is None:
            self.A.zeroEntries()
            dolfinx.fem.petsc.assemble_matrix(self.A, self.a, bcs=self.bcs)
        else:  # the fixed cells' part, plus the moving cells' (Dirichlet rows zeroed, diag set 1)
            self._native.assemble(self._a_moving, base=self._fixed, bcs=self.bcs)
        self.A.assemble()
        self._assembled = True
        keep = self.reusing and not self._rebuild
        self.ksp.getPC().setReusePreconditioner(keep)
        self._kept = keep
        if keep:
            return
        self.rebuilds += self.reusing
        start = time.perf_counter()
        if self.shell is not None and hasattr(self.shell, "operator_assembled"):
            self.shell.operator_assembled(self.A)
        self._fresh["setup"] = time.perf_counter() - start

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
        if self.reusing:
            if self._should_rebuild(reason, time.perf_counter() - self._t0) and self._kept and reason <= 0:
                # gone stale: once more, from zero, with a fresh one
                logger.info("  solve: %s with the kept preconditioner; rebuilding it",
                            reason_name(reason))
                u.x.array[:] = 0.0
                self.assemble_matrix()
                return self.solve(u)
        if reason <= 0:
            degree = self.L.function_spaces[0].element.basix_element.degree
            other = "direct" if self.preset != "direct" else ("iterative" if degree >= 2 else "blr")
            raise SolverError(
                f"linear solve did not converge: PETSc reason {reason_name(reason)} ({reason}) "
                f"after {self.iterations} iterations with preset '{self.preset}'; "
                f"try solver.preset = '{other}' or other PETSc options")
        logger.debug("KSP %s: %s in %d iterations", self.prefix, reason_name(reason), self.iterations)
        return u

    def _should_rebuild(self, reason: int, seconds: float) -> bool:
        """After a solve with `reuse`: the rebuild decision for the next assembly (see reuse)."""
        comm = self.A.comm.tompi4py()
        seconds = comm.allreduce(seconds, op=MPI.MAX)
        fresh = self._fresh
        if not self._kept:  # a fresh preconditioner: the reference count and its build's cost
            fresh.update(iterations=self.iterations, seconds=seconds,
                         setup=comm.allreduce(fresh["setup"], op=MPI.MAX))
            self._excess, self._rebuild = 0.0, False
        else:
            per_iteration = seconds / max(self.iterations, 1)
            build = fresh["setup"] + max(fresh["seconds"] - fresh["iterations"] * per_iteration, 0.0)
            self._excess += max(self.iterations - fresh["iterations"], 0) * per_iteration
            self._rebuild = self._excess > build
        if reason <= 0:
            self._rebuild = True
        return self._rebuild

    def destroy(self) -> None:
        for obj in (self.ksp, self.A, self.b):
            obj.destroy()
        self._native = self._fixed = None
        if self.shell is not None:
            self.shell.release()
        opts = PETSc.Options()
        for key in list(self.options):
            opts.delValue(f"-{self.prefix}{key}")
