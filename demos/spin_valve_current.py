# # Spin-transfer torque in a current-driven spin valve: angle and thickness, two regimes
#
# `demos/spin_valve_current.toml`: a 40 nm pillar (fixed layer 10 nm / Cu 5 nm / free layer
# 10 nm) with j_e = 1e11 A/m^2 along its axis from the fixed towards the free layer, so the
# electrons flow free -> fixed; reservoirs at both ends. The fixed layer points along x, the free
# layer lies in-plane at theta from it. The torque on the free layer is split into its
# damping-like part (along u x (p x u): towards the fixed direction p) and its field-like part
# (along u x p).
#
# With uniform layers and an axial current nothing depends on the lateral position, so the
# sweeps run on the pillar's axis (meshes/stack.geo, 1D): the 3D pillar at 90 degrees is run
# once and compared per unit area. Two regimes:
# - the paper's (a0 = beta = omega0 tau_sf = 10, the case file): the transverse accumulation
#   decays over l_sf = 100 nm while precessing, so a thin free layer absorbs only part of it and
#   the torque's sign depends on the layer's thickness (a finding of this model);
# - the absorbing one (a0 = 0, omega0 = 1e15 1/s: transverse decay length 1.4 nm, far below the
#   10 nm free layer): the free layer absorbs the transverse spin current it receives, as in
#   Slonczewski's picture; its angular dependence is compared with Slonczewski's diffusive form
#   T(theta) = T0 sin(theta)/(1 + chi cos(theta)) (J. Magn. Magn. Mater. 247, 324 (2002)).
# Run: `mpirun -n 2 python demos/spin_valve_current.py [OUT]` (default results/sv-current-sweep).
# Writes torque_vs_angle.csv, torque_vs_thickness.csv, torque_vs_angle.png,
# torque_vs_thickness.png and the 3D pillar's result folder (pillar/).

# +
import copy
import math
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.app.demo import demo_output
from fem_spin.io.case import load_case
from fem_spin.progress import configure_logging, logger
from fem_spin.app.runner import run_case

configure_logging()
comm = MPI.COMM_WORLD
here = Path(__file__).parent
out = demo_output(__file__, "results/sv-current-sweep")
base = load_case(here / "spin_valve_current.toml")
p = np.array(base["regions"]["fixed"]["direction"])
R = 20.0  # the pillar's radius [nm] (meshes/spin_valve.geo)
REGIMES = {"paper": {}, "absorbing": {"a0": 0.0, "omega0_per_s": 1e15}}


def stack_case(regime: str, theta: float, t_free: float = 10.0) -> dict:
    """The case on the pillar's axis: the same regions and contacts, j_e along +x."""
    case = copy.deepcopy(base)
    case["geometry"].update(file=str(here.parent / "meshes" / "stack.geo"),
                            parameters={"t_free": t_free, "h": min(0.1, t_free / 20)})
    case["current"]["j_A_per_m2"] = [base["current"]["j_A_per_m2"][2], 0.0, 0.0]
    for name in ("fixed", "free"):
        case["regions"][name].update(REGIMES[regime])
    case["regions"]["free"]["direction"] = [math.cos(math.radians(theta)), math.sin(math.radians(theta)), 0.0]
    case["output"].update(paraview=False, png=False, line_from_nm=None, line_to_nm=None)
    return case


def split(T: np.ndarray, theta: float) -> tuple[float, float]:
    """(damping-like, field-like) components of a torque on the free layer at theta."""
    u = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta)), 0.0])
    a, b = p - (p @ u) * u, np.cross(u, p)
    if np.linalg.norm(a) < 1e-12:
        return 0.0, 0.0
    return float(T @ a / np.linalg.norm(a)), float(T @ b / np.linalg.norm(b))


def torque_per_area(case: dict, folder: Path) -> np.ndarray:
    """Torque on the free layer per unit area of the stack [A/s]: integral of omega x m over
    the layer (nm in 1D) in SI."""
    res = run_case(case, folder, overwrite=True, comm=comm)
    return np.array(res.summary["regions"]["free"]["torque_integral"]) * 1e-9


scratch = out / "scratch"
angles = [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0, 105.0, 120.0, 135.0, 150.0, 165.0, 180.0]
rows = []
for regime in REGIMES:
    for theta in angles:
        rows.append((regime, theta, *split(torque_per_area(stack_case(regime, theta), scratch), theta)))
thicknesses = [float(f"{t:.3g}") for t in np.geomspace(2.0, 200.0, 41)]  # 10 per decade: the
# paper regime's torque oscillates with the thickness (transverse wavelength 2 pi l_sf/a0 = 63 nm)
thick = []
for regime in REGIMES:
    for t in thicknesses:
        thick.append((regime, t, *split(torque_per_area(stack_case(regime, 90.0, t), scratch), 90.0)))

# The 3D pillar at 90 degrees (the case file as it is) against the stack, per unit area.
pillar = copy.deepcopy(base)
pillar["output"]["png"] = True
res = run_case(pillar, out / "pillar", overwrite=True, comm=comm)
T3 = np.array(res.summary["regions"]["free"]["torque_integral"]) * 1e-27 / (math.pi * (R * 1e-9) ** 2)
pillar_dl = split(T3, 90.0)[0]
# -

# Tables, Slonczewski's fit and the figures.

# +
if comm.rank == 0:
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    full = base["regions"]["free"]["P"] * 5.7884e-5 * base["current"]["j_A_per_m2"][2]  # A/s per m^2
    stack90 = next(r[2] for r in rows if r[0] == "paper" and r[1] == 90.0)
    logger.info("3D pillar at 90 deg: damping-like %.5g A/s per m^2; the 1D stack: %.5g (ratio %.5f)",
                pillar_dl, stack90, pillar_dl / stack90)
    with open(out / "torque_vs_angle.csv", "w") as fh:
        fh.write("regime,theta_deg,damping_like_A_per_s_m2,field_like_A_per_s_m2\n")
        for regime, theta, dl, fl in rows:
            fh.write(f"{regime},{theta:g},{dl:.6g},{fl:.6g}\n")
    with open(out / "torque_vs_thickness.csv", "w") as fh:
        fh.write("regime,t_free_nm,damping_like_A_per_s_m2,field_like_A_per_s_m2\n")
        for regime, t, dl, fl in thick:
            fh.write(f"{regime},{t:g},{dl:.6g},{fl:.6g}\n")
    # Slonczewski's T0 sin/(1 + chi cos) fitted to the absorbing curve (least squares in T0, chi)
    th = np.radians([r[1] for r in rows if r[0] == "absorbing"])
    dl_abs = np.array([r[2] for r in rows if r[0] == "absorbing"])
    inner = (th > 0) & (th < math.pi)
    # T (1 + chi cos) = T0 sin: linear in (T0, chi)
    A = np.column_stack([np.sin(th[inner]), -dl_abs[inner] * np.cos(th[inner])])
    T0, chi = np.linalg.lstsq(A, dl_abs[inner], rcond=None)[0]
    fit = T0 * np.sin(th) / (1 + chi * np.cos(th))
    logger.info("absorbing regime: Slonczewski fit T0 = %.4g A/s per m^2, chi = %.4f; largest "
                "deviation %.2g of the peak", T0, chi, np.max(np.abs(fit - dl_abs)) / np.max(np.abs(dl_abs)))
    for regime, theta, dl, fl in rows:
        logger.info("%-9s theta %5.1f deg: damping-like %+.4g, field-like %+.4g A/s per m^2",
                    regime, theta, dl, fl)
    for regime, t, dl, fl in thick:
        logger.info("%-9s t_free %5.1f nm: damping-like %+.4g, field-like %+.4g A/s per m^2",
                    regime, t, dl, fl)
    with open(out / "slonczewski_fit.txt", "w") as fh:
        fh.write(f"T0_A_per_s_m2 = {T0:.6g}\nchi = {chi:.6g}\nideal_P_muB_j_over_e = {full:.6g}\n"
                 f"pillar_3d_over_stack_at_90 = {pillar_dl / stack90:.6f}\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), dpi=120)
    fine = np.linspace(0, math.pi, 181)
    for ax, regime in zip(axes, REGIMES):
        sel = [r for r in rows if r[0] == regime]
        deg = [r[1] for r in sel]
        ax.plot(deg, np.array([r[2] for r in sel]) / full, "o-", label="damping-like")
        ax.plot(deg, np.array([r[3] for r in sel]) / full, "s-", label="field-like")
        if regime == "absorbing":
            ax.plot(np.degrees(fine), T0 * np.sin(fine) / (1 + chi * np.cos(fine)) / full, "k--", lw=0.9,
                    label=rf"Slonczewski $T_0\sin\theta/(1+\chi\cos\theta)$, $\chi$ = {chi:.2f}")
        ax.axhline(0, color="0.7", lw=0.6)
        ax.set_xlabel(r"angle $\theta$ between the layers [deg]")
        ax.set_xticks(range(0, 181, 30))
        ax.set_ylabel(r"torque / $(P\mu_B j_e/e)$")
        title = (r"paper's regime ($a_0=\beta=10$)" if regime == "paper"
                 else r"absorbing regime ($a_0=0$, $\omega_0\tau_{sf}=10^4$)")
        ax.set_title(title + "\nelectrons flow free $\\to$ fixed", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "torque_vs_angle.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.2, 4.3), dpi=120)
    for k, regime in enumerate(REGIMES):
        sel = [r for r in thick if r[0] == regime]
        ax.plot([r[1] for r in sel], np.array([r[2] for r in sel]) / full, ".-", color=f"C{k}",
                label=f"damping-like, {regime} regime")
        ax.plot([r[1] for r in sel], np.array([r[3] for r in sel]) / full, "--", color=f"C{k}",
                label=f"field-like, {regime} regime", alpha=0.7)
    ax.axhline(0, color="0.7", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("free layer thickness [nm]")
    ax.set_ylabel(r"torque at $\theta$ = 90$^\circ$ / $(P\mu_B j_e/e)$")
    ax.set_title("torque vs free-layer thickness (electrons free $\\to$ fixed)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "torque_vs_thickness.png")
    plt.close(fig)
    logger.info("wrote %s", ", ".join(str(out / n) for n in (
        "torque_vs_angle.csv", "torque_vs_thickness.csv", "torque_vs_angle.png", "torque_vs_thickness.png")))
# -
