# # The nanopillar spin valve switched by its own current
#
# `demos/pillar_switching.toml`: meshes/spin_valve.geo with a 4 nm free layer, demag on, the
# Oersted field of the solved current on. First the antiparallel state is relaxed without a
# current (damping only, to 1e-4 T; rho = 0: no electrons), then each current starts from that
# state (u_final.ovf) and runs until the free layer has switched (<u_x> of it crosses 0 and
# reaches +0.9) or t_end. Electrons flow fixed -> free (conventional current into `top`), the
# polarity that turns the free layer towards the fixed one; the reversed current is run once
# at the largest j to show it holds the antiparallel state instead.
# Run: `mpirun -n 2 python demos/pillar_switching.py [OUT]` (default results/pillar-switching).
# Writes OUT/relax, OUT/j=..., OUT/switching.csv, OUT/switching.json and OUT/switching.png.

# +
import copy
import json
import math
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.app.runner import run_case
from fem_spin.io.case import load_case
from fem_spin.physics.dynamics import first_crossing
from fem_spin.progress import configure_logging, logger

configure_logging()
comm = MPI.COMM_WORLD
here = Path(__file__).resolve().parent
out = Path(sys.argv[1] if len(sys.argv) > 1 else "results/pillar-switching")
CURRENTS = [float(j) for j in sys.argv[2].split(",")] if len(sys.argv) > 2 else [5e11, 7e11, 1e12, 1.5e12]
base = load_case(here / "pillar_switching.toml")
area_m2 = math.pi * (20e-9) ** 2  # the pillar's cross-section (R = 20 nm)

relax = copy.deepcopy(base)
relax["current"]["drive"] = "none"
relax["field"]["oersted"] = False
relax["boundaries"] = {}
relax["dynamics"].update(relax=True, relax_torque_T=1e-4, t_end_s=3e-9, dt_s=1e-11, order=1, rho=0.0)
relax["regions"]["free"]["alpha_G"] = 0.5  # relaxation: only the end state counts
run_case(relax, out / "relax", overwrite=True, comm=comm)
state = (out / "relax" / "u_final.ovf").resolve()


def switch(j: float, folder: Path, t_end: float) -> None:
    case = copy.deepcopy(base)
    case["regions"]["free"].update(profile="ovf", file=str(state), outside="nearest")
    case["boundaries"]["top"]["current_A"] = j * area_m2
    case["dynamics"]["t_end_s"] = t_end
    run_case(case, folder, overwrite=True, comm=comm)


runs = {}
for j in CURRENTS:
    runs[j] = out / f"j={j:g}"
    switch(j, runs[j], 1.5e-9)
runs[-CURRENTS[-1]] = out / f"j={-CURRENTS[-1]:g}"
switch(-CURRENTS[-1], runs[-CURRENTS[-1]], 3e-10)
# -

# The switching time: the first crossing of <u_x> = 0 in the free layer.

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    rows, report = [], {}
    for j, folder in runs.items():
        d = np.genfromtxt(folder / "dynamics.csv", delimiter=",", names=True)
        s = json.loads((folder / "summary.json").read_text())
        t0 = first_crossing(d["t_s"], d["u_x_free"])
        t9 = first_crossing(d["t_s"], d["u_x_free"], 0.9)
        ax.plot(d["t_s"] * 1e9, d["u_x_free"], label=f"j = {j:.3g} A/m^2")
        report[f"{j:g}"] = {"switch_time_ns": None if t0 is None else t0 * 1e9,
                            "to_0.9_ns": None if t9 is None else t9 * 1e9,
                            "u_free_end": [float(d[f"u_{c}_free"][-1]) for c in "xyz"],
                            "oersted_peak_T": s.get("oersted_peak_T"),
                            "wall_s": s["timings_s"].get("dynamics")}
        rows.append([j, np.nan if t0 is None else t0, np.nan if t9 is None else t9])
    ax.set_xlabel("t [ns]")
    ax.set_ylabel("<u_x> of the free layer")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "switching.png")
    np.savetxt(out / "switching.csv", np.array(rows), delimiter=",", header="j_A_per_m2,t_switch_s,t_0.9_s",
               comments="", fmt="%.6g")
    (out / "switching.json").write_text(json.dumps(report, indent=2) + "\n")
    logger.info("%s", json.dumps(report, indent=2))
# -
