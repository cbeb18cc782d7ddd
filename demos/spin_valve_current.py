# # Spin-transfer torque in a current-driven nanopillar spin valve
#
# `demos/spin_valve_current.toml`: a 40 nm pillar (fixed Co-like layer 10 nm / Cu 5 nm / free
# layer 10 nm) with 1e11 A/m^2 along its axis z, reservoirs at both ends. The fixed layer points
# along x; the free layer lies in-plane at theta from it. For theta = 0 ... 180 degrees this
# computes the spin accumulation (A/m) and the torque on the free layer, split into its in-plane
# (damping-like, towards the fixed layer's direction) and out-of-plane (field-like) parts, and
# compares the angular dependence with Slonczewski's sin(theta).
# Run: `mpirun -n 2 python demos/spin_valve_current.py [OUT]` (default results/sv-current-sweep).
# Writes theta=*/ result folders (ParaView files at 0, 90 and 180 degrees), torque_vs_angle.csv,
# torque_vs_angle.png and profiles.png.

# +
import copy
import math
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.io.case import load_case
from fem_spin.progress import configure_logging, logger
from fem_spin.app.runner import run_case

configure_logging()
comm = MPI.COMM_WORLD
out = Path(sys.argv[1] if len(sys.argv) > 1 else "results/sv-current-sweep")
base = load_case(Path(__file__).with_name("spin_valve_current.toml"))
angles = [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0]
p = np.array(base["regions"]["fixed"]["direction"])
rows, profiles = [], {}
for theta in angles:
    case = copy.deepcopy(base)
    u = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta)), 0.0])
    case["regions"]["free"]["direction"] = u.tolist()
    case["output"]["paraview"] = theta in (0.0, 90.0, 180.0)
    case["output"]["png"] = False
    folder = out / f"theta={theta:g}"
    case["output"]["folder"] = str(folder)
    res = run_case(case, folder, overwrite=True, comm=comm)
    T = np.array(res.summary["regions"]["free"]["torque_integral"]) * 1e-27  # A m^2/s
    a = p - (p @ u) * u  # in-plane, towards p; |a| = sin(theta)
    b = np.cross(u, p)   # out of plane
    t_in = T @ a / np.linalg.norm(a) if np.linalg.norm(a) > 1e-12 else 0.0
    t_out = T @ b / np.linalg.norm(b) if np.linalg.norm(b) > 1e-12 else 0.0
    rows.append((theta, t_in, t_out, np.linalg.norm(T)))
    if comm.rank == 0:
        profiles[theta] = np.loadtxt(folder / "profile.csv", delimiter=",", skiprows=1)
# -

# The table and the comparison with sin(theta), scaled to the 90-degree value.

# +
if comm.rank == 0:
    t90 = next(r[1] for r in rows if r[0] == 90.0)
    with open(out / "torque_vs_angle.csv", "w") as fh:
        fh.write("theta_deg,damping_like_A_m2_per_s,field_like_A_m2_per_s,abs_torque_A_m2_per_s,"
                 "damping_like_over_t90_sin\n")
        for theta, t_in, t_out, t_abs in rows:
            s = math.sin(math.radians(theta))
            ratio = t_in / (t90 * s) if s > 1e-12 else float("nan")
            fh.write(f"{theta:g},{t_in:.6g},{t_out:.6g},{t_abs:.6g},{ratio:.4f}\n")
            logger.info("theta %5.1f deg: damping-like %+.4g, field-like %+.4g A m^2/s; "
                        "damping-like / (T90 sin theta) = %.3f", theta, t_in, t_out, ratio)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    th = np.array([r[0] for r in rows])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.8), dpi=110)
    ax.plot(th, [r[1] for r in rows], "o-", label="damping-like (in-plane)")
    ax.plot(th, [r[2] for r in rows], "s-", label="field-like (out of plane)")
    fine = np.linspace(0, 180, 181)
    ax.plot(fine, t90 * np.sin(np.radians(fine)), "k--", lw=0.8, label="T(90) sin(theta)")
    ax.set_xlabel("angle between the layers [deg]")
    ax.set_ylabel("torque on the free layer [A m^2/s]")
    ax.set_xticks(range(0, 181, 30))
    ax.legend(fontsize=8)
    ax.set_title("spin-transfer torque, j = 1e11 A/m^2")
    for theta in (0.0, 90.0, 180.0):
        d = profiles[theta]
        for k, c in enumerate("xyz"):
            bx.plot(d[:, 0], d[:, k + 1], ["-", "--", ":"][k], label=f"m_{c}, {theta:g} deg",
                    color=f"C{[0.0, 90.0, 180.0].index(theta)}")
    for z in (10.0, 15.0):
        bx.axvline(z, color="0.8", lw=0.8)
    bx.set_xlabel("z along the pillar's axis [nm]")
    bx.set_ylabel("spin accumulation [A/m]")
    bx.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    bx.set_title("accumulation along the axis")
    fig.tight_layout()
    fig.savefig(out / "torque_vs_angle.png")
    plt.close(fig)
    logger.info("wrote %s and %s", out / "torque_vs_angle.csv", out / "torque_vs_angle.png")
# -
