# # The free layer of the paper's slab turned by the spin accumulation (Eq. 79)
#
# `demos/spin_valve_dynamics.toml`: the paper's slab (meshes/slab.geo, 1D) as a spin valve:
# the left layer fixed along z, the right layer free, starting along y (90 degrees) with its
# easy axis and a field of 50 mT along z. The accumulation driven by m = -u_L at the left end
# acts on the free layer through B_sd = +(omega0 rho/gamma) m. Two drive strengths: a weak one
# (rho = 2e-4), under which field and anisotropy pull the free layer to +z, and a strong one
# (rho = 1e-2), under which the torque from the accumulation wins and turns it away from +z.
# Run: `python demos/spin_valve_dynamics.py [OUT]` (default results/sv-dynamics); writes one
# result folder per drive (u_t.pvd / m_t.pvd time series, dynamics.csv) and drives.png.

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
out = demo_output(__file__, "results/sv-dynamics")
base = load_case(Path(__file__).with_name("spin_valve_dynamics.toml"))
base["dynamics"].update(t_end_s=1e-9, dt_s=1e-12, output_every=200)
tables = {}
for rho in (2e-4, 1e-2):
    case = copy.deepcopy(base)
    case["dynamics"]["rho"] = rho
    folder = out / f"rho={rho:g}"
    case["output"]["folder"] = str(folder)
    run_case(case, folder, overwrite=True, comm=comm)
    if comm.rank == 0:
        tables[rho] = np.genfromtxt(folder / "dynamics.csv", delimiter=",", names=True)
# -

# The free layer's average direction against time for both drives.

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=110, sharex=True)
    for k, (rho, t) in enumerate(tables.items()):
        for ax, c in zip(axes, "xyz"):
            ax.plot(t["t_s"] * 1e9, t[f"u_{c}_layer_right"], color=f"C{k}", label=f"rho = {rho:g}")
            ax.set_title(f"free layer <u_{c}>")
            ax.set_xlabel("t [ns]")
        final = t[-1]
        logger.info("rho = %g: free layer at t = %.3g ns: <u> = (%.3f, %.3f, %.3f)", rho,
                    final["t_s"] * 1e9, final["u_x_layer_right"], final["u_y_layer_right"],
                    final["u_z_layer_right"])
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "drives.png")
    plt.close(fig)
    logger.info("wrote %s", out / "drives.png")
# -
