"""The coupled system of Eq. 79: the magnetization's LLG equation driven by the spin
accumulation, with the electrons following quasi-statically (MODEL.md, "Magnetization dynamics").

Every step: M/M0 = mu0 u in the spin problem's coefficients (mu0, the initial |M/M0|, keeps a
spacer's dip), the steady accumulation m (same matrix structure and solver object; only the
coefficients change), the sd field B_sd = -(omega0 rho/gamma) m (normalised m; rho = s0/Ms) or
-(omega0/(gamma Ms)) m (m in A/m with a current drive), then one tangent-plane step of u.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fem_spin._backend import MPI, dolfinx, ufl
from fem_spin.physics.coefficients import GAMMA
from fem_spin.physics.llg import LLG
from fem_spin.io.vtu import VTUSeries
from fem_spin.physics.problem import SpinProblem
from fem_spin.progress import logger, stage


@dataclass
class Coupling:
    """Ties an LLG integrator to a spin problem.

    Attributes:
        problem: the spin-accumulation problem (its coefficients' M follows u on the LLG's
            magnet cells).
        llg: the magnetization's integrator.
        sd_scale: B_sd = -sd_scale * omega0 * m / gamma: rho (normalised m) or 1/Ms (m in A/m),
            a number or a UFL coefficient (per region).
    """

    problem: SpinProblem
    llg: LLG
    sd_scale: object
    solver: object = None
    mu0: np.ndarray = field(default=None, repr=False)

    def __post_init__(self) -> None:
        M = self.problem.coef.M
        self.mu0 = np.linalg.norm(M.x.array.reshape(-1, 3), axis=1)
        self._u_dg = dolfinx.fem.Function(M.function_space)
        U = self.llg.U
        scale = self.sd_scale
        expr = -(scale * self.problem.coef.omega0 / GAMMA) * self.problem.m
        zero = isinstance(scale, (int, float)) and scale == 0  # no drive: B_sd stays 0
        self._bsd = None if zero else dolfinx.fem.Expression(expr, U.element.interpolation_points)
        self.solver = self.problem.make_solver()

    def update_accumulation(self) -> None:
        """M = mu0 u on the magnets, then the steady m and B_sd."""
        M = self.problem.coef.M
        self._u_dg.interpolate(self.llg.u, cells0=self.llg.cells_magnet)
        d = self._u_dg.x.array.reshape(-1, 3)
        n = np.linalg.norm(d, axis=1)
        d[n > 0] /= n[n > 0, None]  # u is unit at the nodes; DG_k nodes between them are not
        new = M.x.array.reshape(-1, 3)
        mask = n > 0
        new[mask] = self.mu0[mask, None] * d[mask]
        M.x.scatter_forward()
        self.solver.assemble_matrix()
        self.solver.solve(self.problem.m)
        if self._bsd is not None:
            self.llg.B_sd.interpolate(self._bsd)
            self.llg.B_sd.x.scatter_forward()

    def destroy(self) -> None:
        self.solver.destroy()


class RegionMeans:
    """Volume averages of vector fields per named cell group (forms compiled once)."""

    def __init__(self, domain, fields: dict[str, object], names: list[str]):
        dx = ufl.Measure("dx", domain=domain.mesh, subdomain_data=domain.cell_tags)
        one = dolfinx.fem.Constant(domain.mesh, dolfinx.default_scalar_type(1.0))
        self.comm = domain.comm
        self.volumes = {n: self._total(dolfinx.fem.form(one * dx(domain.cells[n]))) for n in names}
        self.forms = {(key, c, n): dolfinx.fem.form(f[i] * dx(domain.cells[n]))
                      for n in names for key, f in fields.items() for i, c in enumerate("xyz")}

    def _total(self, form) -> float:
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def __call__(self) -> dict[str, float]:
        """{f"{field}_{comp}_{region}": average}."""
        return {f"{key}_{c}_{n}": self._total(f) / self.volumes[n] if self.volumes[n] > 0 else 0.0
                for (key, c, n), f in self.forms.items()}


def run_dynamics(coupling: Coupling, t_end: float, dt: float, folder: Path | None = None,
                 output_every: int = 10, regions: list[str] | None = None, vtx: bool = False,
                 callback: Callable[[float, Coupling], None] | None = None) -> list[dict]:
    """Integrate from t = 0 to t_end [s] with steps dt; returns the table of recorded rows.

    With a folder: time series u_t (P1) and m_t (m and T) as binary VTK XML .pvd collections
    (every ParaView; with `vtx` also VTX .bp), written every `output_every` steps and at the end, and
    dynamics.csv (time, energies, region averages of u and m, max | |u| - 1 |).
    """
    nsteps = int(round(t_end / dt))
    if nsteps < 1 or abs(nsteps * dt - t_end) > 1e-9 * t_end:
        raise ValueError(f"t_end = {t_end!r} s is not a whole number of steps dt = {dt!r} s")
    llg, problem = coupling.llg, coupling.problem
    comm = problem.domain.comm
    regions = regions or []
    means = RegionMeans(problem.domain, {"u": llg.u, "m": problem.m}, regions)
    rows: list[dict] = []
    T = dolfinx.fem.Function(problem.V, name="T")
    T_expr = dolfinx.fem.Expression(problem.torque(), problem.V.element.interpolation_points)
    writers = []
    if folder is not None:
        for name, funcs in {"u_t": [llg.u], "m_t": [problem.m, T]}.items():
            writers.append(VTUSeries(folder, name, funcs))
            if vtx and dolfinx.common.has_adios2:
                writers.append(dolfinx.io.VTXWriter(comm, folder / f"{name}.bp", funcs, engine="BP4"))

    def record(t: float, write: bool) -> None:
        row = {"t_s": t, **llg.energies(), "max_norm_error": llg.max_norm_error()}
        row.update(means())
        rows.append(row)
        if write and writers:
            T.interpolate(T_expr)  # only the files need T
            for w in writers:
                w.write(t)
        if callback:
            callback(t, coupling)

    wall = time.perf_counter()
    try:
        with stage("dynamics", comm, problem.timings):
            coupling.update_accumulation()
            record(0.0, True)
            for n in range(1, nsteps + 1):
                llg.step(dt)
                coupling.update_accumulation()
                record(n * dt, n % output_every == 0 or n == nsteps)
                if n % max(1, nsteps // 10) == 0 or n == nsteps:
                    logger.info("  step %d/%d, t = %.4g s, dt = %.3g s, wall %.1f s, E = %.4g J",
                                n, nsteps, n * dt, dt, time.perf_counter() - wall, rows[-1]["total_J"])
    finally:
        for w in writers:
            w.close()
    problem.M.interpolate(problem.coef.M)  # the output copy of M, in the space of m
    if folder is not None and comm.rank == 0:
        with open(folder / "dynamics.csv", "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
            wr.writeheader()
            wr.writerows(rows)
    return rows


def plot_dynamics(rows: list[dict], regions: list[str], png: Path, title: str = "") -> Path:
    """Region averages of u (and the total energy) against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([r["t_s"] for r in rows]) * 1e9
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for name in regions:
        for i, c in enumerate("xyz"):
            axes[0].plot(t, [r[f"u_{c}_{name}"] for r in rows], ["-", "--", ":"][i],
                         color=f"C{regions.index(name)}", label=f"<u_{c}> {name}")
    axes[0].set_xlabel("t [ns]")
    axes[0].set_ylabel("region average of u")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].plot(t, [r["total_J"] for r in rows])
    axes[1].set_xlabel("t [ns]")
    axes[1].set_ylabel("exchange + anisotropy + Zeeman energy [J]")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png
