"""The charge current of a device: div(sigma grad V) = 0, j_e = -sigma grad V (MODEL.md,
"Charge-current drive").

Contacts are boundary groups at a fixed potential (V) or carrying a fixed total current (A)
into the device on an equipotential contact whose potential floats. The floating contacts are
solved exactly by superposition (the problem is linear): one solve with the fixed potentials
and the floating contacts grounded, one per floating contact at 1 V, and a small conductance
system for their potentials. Currents are the consistent (variational) fluxes
a(V, phi_c) with phi_c = 1 on contact c, so the current is conserved to the solver's tolerance.

Lengths are in nm, sigma in S/m, V in volts; j_e in A/m^2; currents in A for 3D meshes (per
metre of depth in 2D, per m^2 of cross-section in 1D).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fem_spin._backend import MPI, PETSc, dolfinx, ufl
from fem_spin.io.case import InputError
from fem_spin.geometry.mesh import Domain
from fem_spin.solvers.linear import prefixed_ksp

NM = 1e-9


@dataclass
class PotentialResult:
    """V (P1), j_e (DG0 vector, A/m^2) and the contacts' potentials and currents."""

    V: dolfinx.fem.Function
    j: dolfinx.fem.Function
    potentials: dict[str, float] = field(default_factory=dict)
    currents: dict[str, float] = field(default_factory=dict)


def _check_disjoint(W, dofs: dict[str, np.ndarray]) -> None:
    """Two contacts that share nodes (a tip touching the ground) would each hold their own
    potential there and the currents come out wrong: refuse (collectively, same verdict on
    every rank)."""
    n = W.dofmap.index_map.size_local
    names = list(dofs)
    owned = {c: set(d[d < n].tolist()) for c, d in dofs.items()}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = W.mesh.comm.allreduce(len(owned[a] & owned[b]), op=MPI.SUM)
            if shared:
                raise InputError(f"contacts [boundaries.{a}] and [boundaries.{b}] share {shared} mesh "
                                 "node(s): one node cannot hold two potentials; separate the two "
                                 "contacts by at least one element (or merge them into one group)")


class _Conductor:
    """The P1 conductance form with its contacts; solves with given contact potentials."""

    def __init__(self, domain: Domain, sigma, contacts: list[str], petsc_options: dict | None = None):
        mesh = domain.mesh
        self.domain = domain
        self.W = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        u, v = ufl.TrialFunction(self.W), ufl.TestFunction(self.W)
        self.sigma = sigma
        self.a = dolfinx.fem.form(sigma * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
        fdim = mesh.topology.dim - 1
        self.dofs = {c: dolfinx.fem.locate_dofs_topological(
            self.W, fdim, domain.facet_tags.find(domain.facets[c])) for c in contacts}
        _check_disjoint(self.W, self.dofs)
        self.values = {c: dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(0.0)) for c in contacts}
        self.bcs = [dolfinx.fem.dirichletbc(self.values[c], self.dofs[c], self.W) for c in contacts]
        zero = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(0.0))
        self.L = dolfinx.fem.form(zero * v * ufl.dx)
        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=self.bcs)
        self.A.assemble()
        self.b = dolfinx.fem.petsc.create_vector(self.W)
        defaults = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"} \
            if self.W.dofmap.index_map.size_global <= 200_000 else \
            {"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-12, "ksp_max_it": 2000}
        # one prefix for every conductor made: its defaults (by size) are not left behind
        self.ksp = prefixed_ksp(self.A, "fem_spin_potential_", {**defaults, **(petsc_options or {})}, keep=False)
        self.lift = {}  # phi_c: 1 on contact c's dofs, 0 elsewhere
        for c, dofs in self.dofs.items():
            phi = dolfinx.fem.Function(self.W)
            phi.x.array[dofs] = 1.0
            phi.x.scatter_forward()
            self.lift[c] = phi

    def solve(self, potentials: dict[str, float]) -> dolfinx.fem.Function:
        for c, const in self.values.items():
            const.value = potentials.get(c, 0.0)
        with self.b.localForm() as loc:
            loc.set(0.0)
        dolfinx.fem.petsc.apply_lifting(self.b, [self.a], bcs=[self.bcs])
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(self.b, self.bcs)
        V = dolfinx.fem.Function(self.W, name="V")
        self.ksp.solve(self.b, V.x.petsc_vec)
        if self.ksp.getConvergedReason() <= 0:
            raise RuntimeError(f"potential solve did not converge (PETSc reason "
                               f"{self.ksp.getConvergedReason()})")
        V.x.scatter_forward()
        return V

    def current_into(self, V: dolfinx.fem.Function, contact: str) -> float:
        """Current into the device through `contact`: a(V, phi_c) with nm turned into m, i.e.
        times 1e-9 in 3D [A], 1 in 2D [A per m of depth], 1e9 in 1D [A per m^2]."""
        expr = self.sigma * ufl.inner(ufl.grad(V), ufl.grad(self.lift[contact])) * ufl.dx
        local = dolfinx.fem.assemble_scalar(dolfinx.fem.form(expr))
        tdim = self.domain.mesh.topology.dim
        return self.domain.comm.allreduce(local, op=MPI.SUM) * NM ** (tdim - 2)

    def destroy(self) -> None:
        for obj in (self.ksp, self.A, self.b):
            obj.destroy()


def solve_potential(domain: Domain, sigma, potentials: dict[str, float],
                    currents: dict[str, float] | None = None,
                    petsc_options: dict | None = None) -> PotentialResult:
    """Solve div(sigma grad V) = 0 with contacts at fixed potentials [V] and floating contacts
    carrying fixed total currents [A] into the device.

    Args:
        domain: the mesh (nm) with named facet groups.
        sigma: conductivity [S/m] (a Constant or a DG0 Function).
        potentials: contact name -> potential [V]; at least one.
        currents: contact name -> total current into the device [A] (equipotential contacts).
    """
    currents = currents or {}
    if not potentials:
        raise InputError("the potential needs at least one contact at a fixed potential_V (a ground)")
    contacts = [*potentials, *currents]
    cond = _Conductor(domain, sigma, contacts, petsc_options)
    try:
        V = cond.solve(potentials)
        if currents:  # superposition: V = V0 + sum_k x_k V_k with floating potentials x_k
            names = list(currents)
            units = [cond.solve({n: 1.0}) for n in names]
            G = np.array([[cond.current_into(u, a) for u in units] for a in names])
            I0 = np.array([cond.current_into(V, a) for a in names])
            x = np.linalg.solve(G, np.array([currents[n] for n in names]) - I0)
            for xk, u in zip(x, units):
                V.x.array[:] += xk * u.x.array
            V.x.scatter_forward()
            potentials = {**potentials, **dict(zip(names, x.tolist()))}
        result_currents = {c: cond.current_into(V, c) for c in contacts}
    finally:
        cond.destroy()
    mesh = domain.mesh
    gdim = mesh.geometry.dim
    Q = dolfinx.fem.functionspace(mesh, ("DG", 0, (3,)))
    j = dolfinx.fem.Function(Q, name="j_e")
    grad = ufl.grad(V)
    j3 = ufl.as_vector([-sigma / NM * grad[i] if i < gdim else 0.0 for i in range(3)])
    j.interpolate(dolfinx.fem.Expression(j3, Q.element.interpolation_points))
    j.x.scatter_forward()
    return PotentialResult(V, j, potentials, result_currents)
