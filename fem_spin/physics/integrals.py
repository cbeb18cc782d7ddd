"""Integrals over the named cell groups (regions) of a domain, with their forms compiled once:
summary.json's per-region numbers and the dynamics' region averages both come from here."""

from __future__ import annotations

import numpy as np

from fem_spin._backend import MPI, dolfinx, ufl


class RegionIntegrals:
    """Integrals of UFL expressions over named regions, summed over the ranks.

    `names`: the regions (default: every cell group, in tag order); `quadrature_degree`:
    of every integral (None: UFL's estimate). Regions of zero volume are left out of `names`.
    """

    def __init__(self, domain, names: list[str] | None = None, quadrature_degree: int | None = None):
        meta = {} if quadrature_degree is None else {"quadrature_degree": quadrature_degree}
        self.domain, self.comm = domain, domain.comm
        self.dx = ufl.Measure("dx", domain=domain.mesh, subdomain_data=domain.cell_tags, metadata=meta)
        if names is None:
            names = [n for n, _ in sorted(domain.cells.items(), key=lambda kv: kv[1])]
        one = dolfinx.fem.Constant(domain.mesh, dolfinx.default_scalar_type(1.0))
        self.volumes = {n: self.total(self.form(one, n)) for n in names}
        self.names = [n for n in names if self.volumes[n] > 0]

    def form(self, expr, name: str):
        """The compiled form of expr integrated over one region."""
        return dolfinx.fem.form(expr * self.dx(self.domain.cells[name]))

    def total(self, form) -> float:
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def integral(self, expr, name: str) -> float:
        return self.total(self.form(expr, name))


class RegionMeans:
    """Volume averages of vector fields per region, {f"{field}_{x|y|z}_{region}": average};
    the forms are compiled once (the dynamics records them every step). A field may also be
    given per region ({region: expression})."""

    def __init__(self, domain, fields: dict[str, object], names: list[str]):
        self.integrals = RegionIntegrals(domain, names)
        self.names = names

        def of(f, n):
            return f[n] if isinstance(f, dict) else f

        self.forms = {(key, c, n): self.integrals.form(of(f, n)[i], n)
                      for n in names for key, f in fields.items() for i, c in enumerate("xyz")}

    def __call__(self) -> dict[str, float]:
        vol = self.integrals.volumes
        return {f"{key}_{c}_{n}": self.integrals.total(f) / vol[n] if vol[n] > 0 else 0.0
                for (key, c, n), f in self.forms.items()}


def region_indicator(domain, name: str):
    """A P1 function, 1 at every node of the region's cells and 0 elsewhere, the same on every
    rank: nodes a rank owns but touches only through another rank's cells get their value by a
    reverse scatter (no ghost cells needed)."""
    mesh = domain.mesh
    W = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    phi = dolfinx.fem.Function(W)
    cells = domain.cell_tags.find(domain.cells[name])
    phi.x.array[np.unique(W.dofmap.list[cells].reshape(-1))] = 1.0
    phi.x.scatter_reverse(dolfinx.la.InsertMode.add)
    phi.x.array[:] = phi.x.array > 0
    phi.x.scatter_forward()
    return phi


def injected_flux(domain, source, names: list[str], quadrature_degree: int | None = None) -> dict:
    """Per region R, the flux of the 3 x gdim tensor `source` into R from the cells around it,
    int_{dR} S.n_in dA [S's unit times nm^(dim-1)], without interior-facet integrals (so no
    ghost cells on any number of ranks): with phi = `region_indicator(R)`, int S . grad phi dx
    over the cells outside R (grad phi lives only in the layer touching R) is, cell by cell, the
    flux of S through their faces weighted by phi, i.e. through R's surface plus where that layer
    meets the mesh boundary, which the ds term removes. Exact for a source constant per cell."""
    meta = {} if quadrature_degree is None else {"quadrature_degree": quadrature_degree}
    mesh = domain.mesh
    dx = ufl.Measure("dx", domain=mesh, metadata=meta)
    ds = ufl.Measure("ds", domain=mesh, metadata=meta)
    n = ufl.FacetNormal(mesh)
    Q = dolfinx.fem.functionspace(mesh, ("DG", 0))
    comm = domain.comm
    out = {}
    for name in names:
        phi = region_indicator(domain, name)
        outside = dolfinx.fem.Function(Q)
        outside.x.array[:] = 1.0
        outside.x.array[Q.dofmap.list[domain.cell_tags.find(domain.cells[name]), 0]] = 0.0
        outside.x.scatter_forward()
        vals = [dolfinx.fem.assemble_scalar(dolfinx.fem.form(
            outside * ufl.dot(source[k, :], ufl.grad(phi)) * dx
            - outside * phi * ufl.dot(source[k, :], n) * ds)) for k in range(3)]
        out[name] = np.array(comm.allreduce(np.asarray(vals, float), op=MPI.SUM))
    return out
