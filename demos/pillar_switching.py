# # The nanopillar spin valve driven by its own current
#
# `demos/pillar_switching.toml`: meshes/spin_valve.geo with a 4 nm free layer, demag on, the
# Oersted field of the solved current on. First the antiparallel state is relaxed without a
# current (damping only, to 1e-4 T; rho = 0: no electrons), then each current starts from that
# state (u_final.ovf) for 1 ns, and the report gives when <u_x> of the free layer first
# crosses 0 and +0.9, and its range over the last 0.2 ns (docs/devices.md: up to 2e12 A/m^2
# this pillar precesses rather than switches, a finding of the model; 3-6e12 switch). Electrons flow fixed -> free
# (conventional current into `top`), the polarity that turns the free layer towards the fixed
# one; the reversed current is run once at the largest j to show it holds the antiparallel
# state instead.
# Run: `mpirun -n 2 python demos/pillar_switching.py [OUT] [J1,J2,...]` (default
# results/pillar-switching and seven currents, about 30 min on one core; the list in A/m^2).
# Writes OUT/relax, OUT/j=..., OUT/switching.csv, OUT/switching.json and OUT/switching.png.

# +
import copy
import json
import math
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.app.demo import demo_parser
from fem_spin.app.runner import run_case
from fem_spin.io.case import load_case
from fem_spin.physics.dynamics import first_crossing
from fem_spin.progress import configure_logging, logger

configure_logging()
comm = MPI.COMM_WORLD
here = Path(__file__).resolve().parent
cli = demo_parser(__file__, "results/pillar-switching")
cli.add_argument("currents", nargs="?", default="1e12,1.4e12,2e12,3e12,4e12,5e12,6e12",
                 help="the current densities [A/m^2], comma-separated (default: %(default)s)")
args = cli.parse_args()
out = args.out
CURRENTS = [float(j) for j in args.currents.split(",")]
base = load_case(here / "pillar_switching.toml")
area_m2 = math.pi * (base["geometry"]["parameters"]["R"] * 1e-9) ** 2  # the pillar's cross-section

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
    switch(j, runs[j], 1e-9)
runs[-CURRENTS[-1]] = out / f"j={-CURRENTS[-1]:g}"
switch(-CURRENTS[-1], runs[-CURRENTS[-1]], 3e-10)
# -

# The switching time: the first crossing of <u_x> = 0 in the free layer (and of 0.9); the
# range of <u_x> over the last 0.2 ns tells a switched layer from a precessing one.

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
        tail = d["u_x_free"][d["t_s"] >= d["t_s"][-1] - 2e-10]  # the last 0.2 ns: settled or precessing
        report[f"{j:g}"] = {"first_ux_0_ns": None if t0 is None else t0 * 1e9,
                            "first_ux_0.9_ns": None if t9 is None else t9 * 1e9,
                            "u_free_end": [float(d[f"u_{c}_free"][-1]) for c in "xyz"],
                            "ux_last_0.2ns": [float(tail.min()), float(tail.max())],
                            "oersted_peak_mT": 1e3 * s["dynamics"]["oersted_peak_T"],
                            "wall_s": s["timings_s"].get("dynamics")}
        rows.append([j, np.nan if t0 is None else t0, np.nan if t9 is None else t9])
    ax.set_xlabel("t [ns]")
    ax.set_ylabel("<u_x> of the free layer")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "switching.png")
    np.savetxt(out / "switching.csv", np.array(rows), delimiter=",", header="j_A_per_m2,t_ux_0_s,t_ux_0.9_s",
               comments="", fmt="%.6g")
    (out / "switching.json").write_text(json.dumps(report, indent=2) + "\n")
    logger.info("%s", json.dumps(report, indent=2))
# -
