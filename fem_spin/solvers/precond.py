"""Preconditioners that PETSc cannot build from options alone.

`PMultigrid` (preset "iterative", degree >= 2): two-level p-multigrid that converges for
every a0, beta tried (1 to 100), including the paper's Helmholtz-like transverse operator.
`ShiftedLaplacian` (preset "shifted", any degree): cheaper for moderate exchange only.

The A-scaled shifted Laplacian.

Multiplying the equation by A = I + [alpha]x turns the non-symmetric diffusion
-div(l^2 A^-1 grad m) into the isotropic -l^2 lap m (for slowly varying A) and leaves a
3x3 reaction A (I + beta [M/M0]x). The preconditioner is therefore

    P^-1 r = K_sigma^-1 (D_A r),   K_sigma = l^2 (grad u, grad v) + sigma (u, v),

with D_A the nodal blocks A(x_i) (identity on Dirichlet dofs), sigma = |(1 + i a0)(1 + i beta)|
and K_sigma, a block-diagonal SPD vector Laplacian, inverted by one GAMG V-cycle.
Iterations are mesh-independent (19 at a0 = beta = 1, 71-73 at 10); for a0 beta >> 1 the
transverse reaction 1 - a0 beta is a Helmholtz shift and this fails (docs/benchmark.md).
Works for P1 and P2 with M in the space of m (the nodal blocks use M's dof values).
"""

from __future__ import annotations

import numpy as np

from fem_spin._backend import PETSc, dolfinx, ufl


class ShiftedLaplacian:
    """PETSc python-PC context; `attach(ksp)` makes it the KSP's preconditioner."""

    def __init__(self, V, M: dolfinx.fem.Function, material, bcs, prefix: str):
        self.prefix = f"{prefix}shift_"
        l2 = material.l_sf_nm**2
        self.sigma = abs((1 + 1j * material.a0) * (1 + 1j * material.beta))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        k = dolfinx.fem.form((l2 * ufl.inner(ufl.grad(u), ufl.grad(v))
                              + self.sigma * ufl.inner(u, v)) * ufl.dx)
        self.K = dolfinx.fem.petsc.assemble_matrix(k, bcs=bcs)
        self.K.assemble()
        self._nodal = (V, M, material.a0, bcs)
        self.D = self._nodal_tensor(*self._nodal)
        self.inner = PETSc.KSP().create(V.mesh.comm)
        self.inner.setOptionsPrefix(self.prefix)
        self.inner.setOperators(self.K)
        self.inner.setType("preonly")
        self.inner.getPC().setType("gamg")
        opts = PETSc.Options()
        defaults = {"pc_gamg_threshold": 0.02, "mg_levels_ksp_type": "chebyshev",
                    "mg_levels_pc_type": "jacobi"}
        for key, value in defaults.items():
            if not opts.hasName(f"{self.prefix}{key}"):
                opts[f"{self.prefix}{key}"] = value
        self._defaults = [f"{self.prefix}{k}" for k in defaults]
        self.inner.setFromOptions()
        self.work = self.K.createVecLeft()

    @staticmethod
    def _nodal_tensor(V, M, a0: float, bcs) -> PETSc.Mat:
        imap = V.dofmap.index_map
        n, r0 = imap.size_local, imap.local_range[0]
        alpha = -a0 * M.x.array.reshape(-1, 3)[:n]  # alpha = -a0 mu u (the sd exchange's sign)
        blocks = np.zeros((n, 3, 3))
        blocks[:] = np.eye(3)
        blocks[:, 0, 1], blocks[:, 0, 2] = -alpha[:, 2], alpha[:, 1]
        blocks[:, 1, 0], blocks[:, 1, 2] = alpha[:, 2], -alpha[:, 0]
        blocks[:, 2, 0], blocks[:, 2, 1] = -alpha[:, 1], alpha[:, 0]
        for bc in bcs:  # Dirichlet rows of the operator are identity rows
            dofs = bc.dof_indices()[0]
            blocks[np.unique(dofs[dofs < 3 * n] // 3)] = np.eye(3)
        rows = np.arange(n + 1, dtype=PETSc.IntType)  # one 3x3 block per block row, on the diagonal
        csr = (rows, (r0 + rows[:-1]).astype(PETSc.IntType), blocks.reshape(-1))
        D = PETSc.Mat().createBAIJ(((3 * n, None), (3 * n, None)), bsize=3, csr=csr, comm=V.mesh.comm)
        D.assemble()
        return D

    def operator_assembled(self, A: PETSc.Mat) -> None:  # A unused: the blocks come from M
        """The nodal blocks A(x_i) follow M (K_sigma does not depend on it)."""
        self.D.destroy()
        self.D = self._nodal_tensor(*self._nodal)

    def attach(self, ksp: PETSc.KSP) -> None:
        pc = ksp.getPC()
        pc.setType("python")
        pc.setPythonContext(self)

    def apply(self, pc, x: PETSc.Vec, y: PETSc.Vec) -> None:  # noqa: ARG002 - PETSc's signature
        self.D.mult(x, self.work)
        self.inner.solve(self.work, y)

    def release(self) -> None:
        """Free the PETSc objects (not named destroy: PETSc calls destroy(pc) on contexts)."""
        for obj in (self.inner, self.K, self.D, self.work):
            obj.destroy()
        opts = PETSc.Options()
        for key in self._defaults:
            opts.delValue(f"-{key}")


def require_coarsenable(degree: int) -> None:
    """PMultigrid's coarse level is P1 on the same mesh, so the fine one must be P2 or higher."""
    if degree < 2:
        raise ValueError("solver.preset 'iterative' (p-multigrid) needs discretization.degree >= 2 "
                         "(it coarsens P_k to P1); with P1 use 'blr' or 'shifted'")


class PMultigrid:
    """Two-level p-multigrid: the P_k problem (k >= 2) corrected on P1 on the same mesh.

    Why it works where AMG, ILU and shifted Laplacians fail (docs/benchmark.md): for
    a0 beta >> 1 the transverse operator is a weakly damped Helmholtz operator whose troublesome
    modes are smooth (wavelength 2 pi l_sf / sqrt(a0 beta), about 6 nm in the paper). A
    mesh fine enough for P2 to resolve them lets P1 on the same mesh represent them too, so
    an exact (MUMPS) solve on P1 removes them and one damped point-block Jacobi step on P_k
    removes the rest. The P1 problem has 1/7 of the DOFs of P2 on 3D tetrahedra, so its LU
    is far cheaper than the P2 one (~1 s against 24 s at 2.7e5 P2 DOFs). Iterations fall as
    the mesh is refined (the P1 representation improves).

    The coarse operator is the Galerkin product P^T A P (exact P1 discretisation of the same
    form, boundary rows included) plus `lumping` times (lumped - consistent) reaction on P1:
    half-lumping cancels most of P1's phase (dispersion) error, which at a0 = beta = 100
    otherwise exceeds the 2% physical damping and doubles the iteration count.

    The PETSc side (PCMG, smoother, coarse LU) is set by the preset's options, so all of it
    can be changed from the command line (e.g. ``-<prefix>mg_coarse_mat_mumps_icntl_35 1``);
    this object supplies the interpolation and the coarse operator (``<prefix>pmg_lumping``
    sets `lumping`).
    """

    def __init__(self, form, coarse_bcs_of, prefix: str, lumping: float = 0.5):
        """form: the fem_spin.physics.forms.SpinForm being solved; coarse_bcs_of(V1): the same
        Dirichlet conditions on a given space; lumping: 0 for the plain Galerkin operator."""
        V = form.V
        require_coarsenable(V.ufl_element().embedded_superdegree)
        mesh = V.mesh
        # PETSc option <prefix>pmg_lumping overrides the default (0 gives plain Galerkin).
        lumping = PETSc.Options(prefix).getReal("pmg_lumping", lumping)
        V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))
        self.P = dolfinx.fem.petsc.interpolation_matrix(V1, V)
        self.P.assemble()
        self.correction = None
        if lumping:
            u, v = ufl.TrialFunction(V1), ufl.TestFunction(V1)
            vertex = ufl.Measure("dx", domain=mesh, metadata={"quadrature_rule": "vertex",
                                                               "quadrature_degree": 1})
            # The fine form's reaction (its coefficients live on the same mesh) on P1.
            # Dirichlet rows and columns zeroed (diag 0): P^T A P already holds them.
            # It depends on M (omega), so operator_assembled reassembles it into this pattern.
            self._correction_form = dolfinx.fem.form(
                lumping * (form.reaction(u, v, vertex) - form.reaction(u, v, form.dx)))
            self._coarse_bcs = coarse_bcs_of(V1)
            self.correction = dolfinx.fem.petsc.create_matrix(self._correction_form)
        self.prefix = prefix
        self.Ac = None
        self.pc = None
        self.smoother = None  # the fine level's KSP when this object supplies its block Jacobi
        self.Dinv = None

    def attach(self, ksp: PETSc.KSP) -> None:
        pc = ksp.getPC()
        if pc.getType() != "mg":  # the user replaced the preconditioner by options
            return
        pc.setMGInterpolation(1, self.P)
        self.pc = pc
        # PETSc's pbjacobi takes its inverse block diagonal from MatInvertBlockDiagonal, which
        # the AIJ matrix caches and does not recompute after zeroEntries + reassembly with the
        # same pattern (issue 24: the smoother kept the first operator's blocks, iterations grew
        # every step). The same smoother is built here instead: a block-diagonal matrix of the
        # inverted 3 x 3 nodal blocks, recomputed in operator_assembled, applied by PCMAT.
        opts = PETSc.Options(self.prefix)
        if opts.getString("mg_levels_pc_type", "pbjacobi") == "pbjacobi" and \
                _block_size(ksp) == 3:
            opts["mg_levels_pc_type"] = "mat"
            self.smoother = pc.getMGSmoother(1)

    def operator_assembled(self, A: PETSc.Mat) -> None:
        """Refresh every part that depends on the operator's values (A reassembled in place):
        the coarse operator P^T A P (pattern reused), its dispersion correction (M-dependent)
        and the smoother's inverse block diagonal."""
        if self.pc is None:
            return
        self.Ac = A.PtAP(self.P, result=self.Ac)
        if self.correction is not None:
            self.correction.zeroEntries()
            dolfinx.fem.petsc.assemble_matrix(self.correction, self._correction_form,
                                              bcs=self._coarse_bcs, diag=0.0)
            self.correction.assemble()
            self.Ac.axpy(1.0, self.correction, structure=PETSc.Mat.Structure.SUBSET)
        self.pc.getMGCoarseSolve().setOperators(self.Ac)
        if self.smoother is not None:
            self.Dinv = inverse_block_diagonal(A, self.Dinv)
            self.smoother.setOperators(A, self.Dinv)

    def release(self) -> None:
        """Free the PETSc objects, including this object's handles on the KSP's PC and smoother
        (while held they keep the PC, its coarse LU and the operator alive after KSP.destroy)."""
        for obj in (self.P, self.correction, self.Ac, self.Dinv, self.smoother, self.pc):
            if obj is not None:
                obj.destroy()
        self.P = self.correction = self.Ac = self.Dinv = self.smoother = self.pc = None


def _block_size(ksp: PETSc.KSP) -> int:
    """The block size of the KSP's preconditioning matrix (3 for fem_spin's vector spaces)."""
    return ksp.getOperators()[1].getBlockSize()


def inverse_block_diagonal(A: PETSc.Mat, out: PETSc.Mat | None = None) -> PETSc.Mat:
    """The inverses of A's 3 x 3 diagonal blocks (owned rows) as a block-diagonal BAIJ matrix,
    what PCPBJACOBI applies, computed from A's current values (`out`, if given, is refilled)."""
    local = A.getDiagonalBlock() if A.comm.size > 1 else A  # owned rows, local columns
    ia, ja, vals = local.getValuesCSR()
    nrows = len(ia) - 1
    rows = np.repeat(np.arange(nrows), np.diff(ia))
    keep = ja // 3 == rows // 3
    blocks = np.zeros((nrows // 3, 3, 3))
    blocks[rows[keep] // 3, rows[keep] % 3, ja[keep] % 3] = vals[keep]
    del ia, ja, vals, rows, keep
    inv = np.linalg.inv(blocks).reshape(-1)
    r0 = A.getOwnershipRange()[0] // 3
    ptr = np.arange(nrows // 3 + 1, dtype=PETSc.IntType)
    cols = (r0 + ptr[:-1]).astype(PETSc.IntType)
    if out is None:
        out = PETSc.Mat().createBAIJ(tuple(zip(A.getLocalSize(), A.getSize())), bsize=3,
                                     csr=(ptr, cols, inv), comm=A.comm)
    else:
        out.setValuesBlockedCSR(ptr, cols, inv)
    out.assemble()
    return out
