"""Time stepping of dm/dt - div(Dt grad m) + (m - m_eq)/tau_sf + omega x m = 0.

Theta scheme in units of tau_sf: backward Euler (theta = 1, first order, L-stable)
or Crank-Nicolson (theta = 1/2, second order). The matrix is assembled once; each
step reassembles only the right-hand side.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from fem_spin._backend import dolfinx
from fem_spin.physics.forms import SpinForm
from fem_spin.io.vtu import VTUSeries
from fem_spin.physics.problem import SpinProblem
from fem_spin.progress import logger, stage


def run_transient(problem: SpinProblem, t_end_s: float, dt_s: float, theta: float = 1.0,
                  m0=None, callback: Callable[[float, dolfinx.fem.Function], None] | None = None
                  ) -> dolfinx.fem.Function:
    """Advance `problem.m` from m0 (default 0) to t_end; times in seconds.

    `callback(t_s, m)` is called after every step (and at t = 0), e.g. to write output.
    """
    if not (dt_s > 0 and t_end_s > 0):
        raise ValueError(f"time step and end time must be > 0, got dt = {dt_s!r} s, t_end = {t_end_s!r} s")
    if theta not in (0.5, 1.0):
        raise ValueError(f"theta must be 1 (backward Euler) or 0.5 (Crank-Nicolson), got {theta!r}")
    tau = problem.coef.t0  # the form's time unit
    nsteps = int(round(t_end_s / dt_s))
    if abs(nsteps * dt_s - t_end_s) > 1e-9 * t_end_s:
        raise ValueError(f"t_end = {t_end_s!r} s is not a whole number of steps dt = {dt_s!r} s")
    m_old = dolfinx.fem.Function(problem.V, name="m_old")
    if m0 is not None:
        m_old.interpolate(m0)
    problem.m.x.array[:] = m_old.x.array
    dt = dolfinx.fem.Constant(problem.V.mesh, dolfinx.default_scalar_type(dt_s / tau))
    form = SpinForm(problem.V, problem.coef, dt=dt, m_old=m_old, theta=theta,
                    quadrature_degree=problem.form.quadrature_degree, neumann=problem.form.neumann,
                    drift=problem.form.drift)
    comm = problem.domain.comm
    with stage("assemble", comm, problem.timings):
        solver = problem.make_solver(form.bilinear(), form.linear())
        solver.assemble_matrix()
    if callback:
        callback(0.0, problem.m)
    try:
        with stage("time loop", comm, problem.timings):
            for step in range(1, nsteps + 1):
                solver.solve(problem.m)
                m_old.x.array[:] = problem.m.x.array
                if callback:
                    callback(step * dt_s, problem.m)
                if step % max(1, nsteps // 10) == 0:
                    logger.info("  step %d/%d, t = %.3g s", step, nsteps, step * dt_s)
    finally:
        solver.destroy()
    return problem.m


def write_time_series(folder: Path, problem: SpinProblem, times: list[float]) -> Callable:
    """A callback that writes m at the given times (s) to folder/m_t.pvd (binary VTK XML time
    series: every ParaView plays it)."""
    writer = VTUSeries(folder, "m_t", [problem.m])
    wanted = np.asarray(times)

    def callback(t: float, m) -> None:
        if np.any(np.isclose(wanted, t, rtol=1e-9, atol=1e-30)):
            writer.write(t)

    callback.close = writer.close  # type: ignore[attr-defined]
    return callback
