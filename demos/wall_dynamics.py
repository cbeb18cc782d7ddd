# # A domain wall in a nanowire pushed by a current through the spin accumulation (Eq. 79)
#
# `demos/wall_dynamics.toml`: a 200 nm wire (1D) with a 180-degree wall (u from +z to -z,
# width sqrt(A/K) = 10 nm) at x = 0, both halves free; a charge current j along x polarises the
# conduction electrons along u, and where u turns the accumulation m lags behind it and exerts
# the torque B_sd = +omega0 m/(gamma Ms) on the wall. Three drives: j = 0 (the wall only
# relaxes), +1e12 and -1e12 A/m^2. The wall's position is read from the wire's mean u_z:
# u_z = -tanh((x - X)/delta) averages to 2X/L over the wire (both halves have length L/2).
# Run: `python demos/wall_dynamics.py [OUT]` (default results/wall-dynamics); writes one result
# folder per drive (u_t.pvd, m_t.pvd, dynamics.csv) and wall_position.png.

# +
import copy
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.app.demo import demo_output
from fem_spin.io.case import load_case
from fem_spin.progress import configure_logging, logger
from fem_spin.app.runner import run_case

configure_logging()
comm = MPI.COMM_WORLD
out = demo_output(__file__, "results/wall-dynamics")
base = load_case(Path(__file__).with_name("wall_dynamics.toml"))
L = base["geometry"]["parameters"]["L"]
tables = {}
for j in (0.0, 1e12, -1e12):
    case = copy.deepcopy(base)
    case["current"]["j_A_per_m2"] = [j, 0.0, 0.0]
    folder = out / f"j={j:g}"
    case["output"]["folder"] = str(folder)
    run_case(case, folder, overwrite=True, comm=comm)
    if comm.rank == 0:
        tables[j] = np.genfromtxt(folder / "dynamics.csv", delimiter=",", names=True)
# -

# The wall's position X = L/2 <u_z> (mean over both halves) and its out-of-plane tilt
# (the wire's mean u_x and u_y) against time.

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for k, (j, t) in enumerate(tables.items()):
        mean = {c: 0.5 * (t[f"u_{c}_layer_left"] + t[f"u_{c}_layer_right"]) for c in "xyz"}
        X = 0.5 * L * mean["z"]
        axes[0].plot(t["t_s"] * 1e9, X, color=f"C{k}", label=f"j = {j:g} A/m^2")
        axes[1].plot(t["t_s"] * 1e9, mean["x"] * L, color=f"C{k}", label=f"<u_x> L, j = {j:g}")
        axes[1].plot(t["t_s"] * 1e9, mean["y"] * L, "--", color=f"C{k}", label=f"<u_y> L, j = {j:g}")
        logger.info("j = %g A/m^2: wall at X = %.4f nm after %.3g ns (%d steps, %d rejected)", j, X[-1],
                    t["t_s"][-1] * 1e9, len(t) - 1, t["rejected_steps"][-1])
    axes[0].set_xlabel("t [ns]")
    axes[0].set_ylabel("wall position X [nm]")
    axes[0].legend()
    axes[1].set_xlabel("t [ns]")
    axes[1].set_ylabel("integral of u_x, u_y over the wire [nm]")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "wall_position.png")
    plt.close(fig)
    logger.info("wrote %s", out / "wall_position.png")
# -
