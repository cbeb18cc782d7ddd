"""A scalable preconditioner for moderate exchange: the A-scaled shifted Laplacian.

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

from ._backend import PETSc, dolfinx, ufl


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
        self.D = self._nodal_tensor(V, M, material.a0, bcs)
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
        alpha = a0 * M.x.array.reshape(-1, 3)[:n]
        blocks = np.zeros((n, 3, 3))
        blocks[:] = np.eye(3)
        blocks[:, 0, 1], blocks[:, 0, 2] = -alpha[:, 2], alpha[:, 1]
        blocks[:, 1, 0], blocks[:, 1, 2] = alpha[:, 2], -alpha[:, 0]
        blocks[:, 2, 0], blocks[:, 2, 1] = -alpha[:, 1], alpha[:, 0]
        for bc in bcs:  # Dirichlet rows of the operator are identity rows
            dofs = bc.dof_indices()[0]
            blocks[np.unique(dofs[dofs < 3 * n] // 3)] = np.eye(3)
        D = PETSc.Mat().createBAIJ(((3 * n, None), (3 * n, None)), bsize=3, nnz=1, comm=V.mesh.comm)
        for i in range(n):
            D.setValuesBlocked([r0 + i], [r0 + i], blocks[i].ravel())
        D.assemble()
        return D

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
