# # Transient: spin accumulation building up in the CPP slab (MODEL.md "Transient")
#
# The paper's 1D slab (theta = 90 degrees, L = 100 nm, w = 0.6 nm), starting from m = 0
# when the ends are switched to their equilibrium values. Crank-Nicolson steps of
# tau_sf/100 up to 3 tau_sf; m(t) goes to `m_t.pvd` (open in ParaView and play),
# and `transient.png` shows profiles of m_x at several times and the growth of the
# peak towards the steady solution. Run: `python demos/transient.py [OUT]`.

# +
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.app.demo import demo_output
from fem_spin.physics.magnetization import Interface
from fem_spin.physics.material import Material
from fem_spin.geometry.mesh import SlabGeometry, build_slab
from fem_spin.io.output import atomic_dir, axis_points, sample
from fem_spin.physics.problem import slab_problem
from fem_spin.progress import configure_logging, logger
from fem_spin.physics.transient import run_transient, write_time_series

configure_logging()
out = demo_output(__file__, "results/transient")
comm = MPI.COMM_WORLD
mat = Material.paper()
domain = build_slab(SlabGeometry(dim=1, length=100.0, h_interface=0.1, h_far=0.25), comm)
problem = slab_problem(domain, mat, Interface(theta=90.0, width=0.6), degree=2)
pts = axis_points(-50.0, 50.0, 1001)
tau, dt, t_end = mat.tau_sf, mat.tau_sf / 100, 3 * mat.tau_sf
snap_times = [0.05 * tau, 0.2 * tau, 0.5 * tau, 1.0 * tau, 3.0 * tau]
# -

# +
with atomic_dir(out, comm, overwrite=True) as tmp:
    series = write_time_series(tmp, problem, [k * 10 * dt for k in range(31)])
    history, snaps = [], {}

    def observe(t, m):
        series(t, m)
        vals = sample(m, pts)
        if comm.rank == 0:
            history.append((t / tau, np.max(np.abs(vals[:, 0]))))
            for ts in snap_times:
                if abs(t - ts) < 0.5 * dt:
                    snaps[ts / tau] = vals[:, 0]

    run_transient(problem, t_end, dt, theta=0.5, callback=observe)
    series.close()
    steady = slab_problem(domain, mat, Interface(theta=90.0, width=0.6), degree=2)
    steady.solve()
    ref = sample(steady.m, pts)
    if comm.rank == 0:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4), dpi=110)
        for ts, mx in snaps.items():
            a1.plot(pts[:, 0], mx, lw=0.9, label=f"t = {ts:g} tau_sf")
        a1.plot(pts[:, 0], ref[:, 0], "k--", lw=0.8, label="steady")
        a1.set_xlabel("x [nm]"), a1.set_ylabel("m_x"), a1.legend(fontsize=7)
        h = np.array(history)
        a2.plot(h[:, 0], h[:, 1], label="max |m_x|(t)")
        a2.axhline(np.max(np.abs(ref[:, 0])), color="k", ls="--", lw=0.8, label="steady")
        a2.set_xlabel("t / tau_sf"), a2.set_ylabel("max |m_x|"), a2.legend()
        fig.tight_layout()
        fig.savefig(tmp / "transient.png")
        plt.close(fig)
        final = np.max(np.abs(snaps[3.0] - ref[:, 0]))
        logger.info("max |m_x(3 tau_sf) - m_x(steady)| = %.3e; steady peak %.4f", final,
                    np.max(np.abs(ref[:, 0])))
logger.info("results in %s (m_t.pvd, transient.png)", out)
# -
