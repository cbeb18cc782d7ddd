"""Integrals over the named cell groups (regions) of a domain, with their forms compiled once:
summary.json's per-region numbers and the dynamics' region averages both come from here."""

from __future__ import annotations

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
