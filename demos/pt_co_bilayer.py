# # Spin-orbit torques in a Pt/Co bilayer: accumulation, torque ratio against the Co thickness,
# # and the switching of a perpendicular Co layer
#
# `demos/pt_co_bilayer.toml`: a Pt (4 nm, theta_SH = 0.1, l_sf = 1.5 nm) / Co strip with an
# in-plane current of 1e11 A/m^2 along +x. The spin Hall current of the Pt injects moments along
# p = j x z = -y into the Co (u = +z); the torque on the Co splits into its damping-like part
# (towards p) and its field-like part (along u x p = +x), summary.json's
# regions.Co.spin_orbit_torque.
#
# With a uniform current nothing depends on the in-plane position away from the strip's side
# faces, so the sweeps run on the stack's thickness (demos/pt_co_stack.geo, 1D along x): there x
# is the strip's z (the thickness), y its x (the current) and z its y, so p = -z and u = +x
# (a proper rotation: the same physics). The 3D strip at t_Co = 1 nm is run once and compared per
# unit area.
# 1. torque_vs_thickness.csv / .png: damping-like, field-like and their ratio for t_Co = 0.3 ..
#    10 nm, for the case's Co (a0 = 1) and with a0 = 0 (no off-diagonal diffusion).
# 2. switching.csv / .png: a 2 ns current pulse of up to 1.2e12 A/m^2 with an in-plane field of
#    10 mT along the current's axis: the Co switches up -> down when the field is along +j (the
#    final state is h x p, h the field's direction: docs/devices.md) and the reversed pulse
#    switches it back; with the field against j it stays. The demagnetizing field is not in
#    fem_spin yet: the Co's perpendicular anisotropy is an effective one (K_eff = K_u - mu0 Ms^2/2
#    = 3e4 J/m^3 assumed), the Co a macrospin across its 1 nm, alpha_G = 0.5.
# Run: `mpirun -n 2 python demos/pt_co_bilayer.py [OUT]` (default results/pt-co-bilayer); writes
# strip/ (the 3D result folder), torque_vs_thickness.csv, torque_vs_thickness.png,
# switching.csv, switching.png.

# +
import copy
import shutil
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.app.demo import demo_output
from fem_spin._backend import dolfinx
from fem_spin.app.build import build_domain, device_regions, llg_of
from fem_spin.app.runner import run_case
from fem_spin.io.case import load_case
from fem_spin.io.model import as_case
from fem_spin.physics.coefficients import MUB_OVER_E
from fem_spin.physics.dynamics import Coupling
from fem_spin.physics.integrals import RegionMeans
from fem_spin.physics.problem import SpinProblem
from fem_spin.progress import configure_logging, logger

configure_logging()
comm = MPI.COMM_WORLD
here = Path(__file__).parent
out = demo_output(__file__, "results/pt-co-bilayer")
base = load_case(here / "pt_co_bilayer.toml")
J = base["current"]["j_A_per_m2"][0]
THETA = base["regions"]["Pt"]["theta_SH"]
T_PT = base["geometry"]["parameters"]["t_pt"]
IDEAL = THETA * MUB_OVER_E * J  # the spin Hall moment current of the Pt [A/s per m^2]


def stack_case(t_co: float, a0: float | None = None, j: float = J) -> dict:
    """The case on the stack's axis (x: thickness, current along +y, Co along +x)."""
    case = copy.deepcopy(base)
    case["geometry"].update(file=str(here / "pt_co_stack.geo"),
                            parameters={"t_pt": T_PT, "t_co": t_co, "h": min(0.05, t_co / 10)})
    case["current"]["j_A_per_m2"] = [0.0, j, 0.0]
    case["regions"]["Co"]["direction"] = [1.0, 0.0, 0.0]
    if a0 is not None:
        case["regions"]["Co"]["a0"] = a0
    case["output"].update(paraview=False, png=False, line_from_nm=None, line_to_nm=None)
    return case


def sot(summary: dict, area_nm2: float = 1.0) -> tuple[float, float]:
    """(damping-like, field-like) torque on the Co per unit area [A/s per m^2]."""
    s = summary["regions"]["Co"]["spin_orbit_torque"]
    return s["damping_like"] * 1e-9 / area_nm2, s["field_like"] * 1e-9 / area_nm2


scratch = out / "scratch"
strip = run_case(copy.deepcopy(base), out / "strip", overwrite=True, comm=comm)
geo = base["geometry"]["parameters"]
strip_dl, strip_fl = sot(strip.summary, geo["L"] * geo["w"])
p_strip = strip.summary["regions"]["Co"]["spin_orbit_torque"]["p"]
regimes = {"a0 = 1 (case)": None, "a0 = 0": 0.0}
thicknesses = sorted({float(f"{t:.3g}") for t in np.geomspace(0.3, 10.0, 19)} | {1.0})
rows = []
for name, a0 in regimes.items():
    for t in thicknesses:
        res = run_case(stack_case(t, a0), scratch, overwrite=True, comm=comm)
        rows.append((name, t, *sot(res.summary)))
stack1 = next(r for r in rows if r[0] == "a0 = 1 (case)" and r[1] == 1.0)
# -

# Switching: the Co (1 nm, u along the thickness) with exchange, an effective perpendicular
# anisotropy and damping, the in-plane field along the current's axis, and a current pulse (0.1 ns
# rise, flat to 1 ns, linear fall to 2 ns, then 1 ns without current). The pulse's shape needs a
# current that changes in time, so this part drives the LLG and the accumulation from Python:
# the same objects `fem-spin run` builds for [dynamics], with j_e a DG0 function set every step.

# +
J_SW, B_SW, K_EFF, ALPHA, DT = 1.2e12, 0.01, 3e4, 0.5, 2e-12


def pulse(t: float) -> float:
    return min(1.0, t / 0.1e-9, max(0.0, (2e-9 - t) / 1e-9))


def switch(u0: float, j: float, B: float, steps: int = 1500) -> np.ndarray:
    """(t, <u>) of the Co every 10 steps, from u0 = +-1 (up/down, 2.6 degrees off the axis)."""
    case = stack_case(1.0)
    case["geometry"].update(dim=1, parameters={"t_pt": T_PT, "t_co": 1.0, "h": 0.1})
    case["regions"]["Co"].update(direction=[0.999 * u0, 0.0447, 0.0], A_ex_J_per_m=1.5e-11,
                                 K_u_J_per_m3=K_EFF, K_axis=[1.0, 0.0, 0.0], alpha_G=ALPHA)
    case["field"]["B_T"] = [0.0, B, 0.0]
    case = as_case(case)
    domain = build_domain(case, comm)
    j_e = dolfinx.fem.Function(dolfinx.fem.functionspace(domain.mesh, ("DG", 0, (3,))))
    problem = SpinProblem(domain=domain, regions=device_regions(case), current=j_e, degree=2, solver="direct")
    llg = llg_of(case, problem)
    coupling = Coupling(problem, llg, problem.coef.cellwise(
        {id(r): (1.0 / r.Ms if r.magnetization is not None else 0.0) for _, r in problem.coef.regions}))
    means = RegionMeans(domain, {"u": llg.u}, ["Co"])
    rows = []
    try:
        coupling.prime()
        for k in range(steps + 1):
            t = k * DT
            if k:
                llg.step(DT)
                j_e.x.array.reshape(-1, 3)[:, 1] = j * pulse(t)
                coupling.update_accumulation(t=t)
            if k % 10 == 0:
                mu = means()
                rows.append((t, mu["u_x_Co"], mu["u_y_Co"], mu["u_z_Co"]))
    finally:
        coupling.destroy()
        llg.destroy()
    return np.array(rows)


runs = {"up, j > 0, B > 0": (1.0, J_SW, B_SW), "up, j > 0, B < 0": (1.0, J_SW, -B_SW),
        "down, j < 0, B > 0": (-1.0, -J_SW, B_SW)}  # j and B along the current's axis
traces = {name: switch(*args) for name, args in runs.items()}
# -

# Tables and figures.

# +
if comm.rank == 0:
    shutil.rmtree(scratch, ignore_errors=True)
    logger.info("3D strip (t_Co = 1 nm): p = (%.3f, %.3f, %.3f); damping-like %.5g, field-like %.5g "
                "A/s per m^2 (%.4f and %.4f of theta_SH muB j/e); 1D stack: %.5g, %.5g (3D/1D %.5f, %.5f)",
                *p_strip, strip_dl, strip_fl, strip_dl / IDEAL, strip_fl / IDEAL, stack1[2], stack1[3],
                strip_dl / stack1[2], strip_fl / stack1[3])
    with open(out / "torque_vs_thickness.csv", "w") as fh:
        fh.write("regime,t_co_nm,damping_like_A_per_s_m2,field_like_A_per_s_m2,"
                 "field_like_over_damping_like\n")
        for name, t, dl, fl in rows:
            fh.write(f"{name},{t:g},{dl:.6g},{fl:.6g},{fl / dl:.6g}\n")
            logger.info("%-14s t_Co %6.3f nm: damping-like %.4f, field-like %+.4f (of theta_SH muB j/e), "
                        "ratio %+.4f", name, t, dl / IDEAL, fl / IDEAL, fl / dl)
    with open(out / "switching.csv", "w") as fh:
        fh.write("run,t_s,u_x,u_y,u_z\n")
        for name, tr in traces.items():
            for row in tr:
                fh.write(f"{name},{row[0]:.6g},{row[1]:.6g},{row[2]:.6g},{row[3]:.6g}\n")
            logger.info("switching, %s: u_perp %.3f -> %.3f at 1 ns (full current) -> %.3f at %.3g ns",
                        name, tr[0, 1], tr[np.argmin(np.abs(tr[:, 0] - 1e-9)), 1], tr[-1, 1], tr[-1, 0] * 1e9)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), dpi=120)
    for k, name in enumerate(regimes):
        sel = [r for r in rows if r[0] == name]
        t = [r[1] for r in sel]
        dl, fl = np.array([r[2] for r in sel]), np.array([r[3] for r in sel])
        axes[0].plot(t, dl / IDEAL, ".-", color=f"C{k}", label=f"damping-like, {name}")
        axes[0].plot(t, fl / IDEAL, "--", color=f"C{k}", label=f"field-like, {name}")
        axes[1].plot(t, [r[3] / r[2] for r in sel], ".-", color=f"C{k}", label=name)
    axes[0].plot([1.0], [strip_dl / IDEAL], "k*", ms=10, label="3D strip, damping-like")
    for ax in axes:
        ax.axhline(0, color="0.7", lw=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("Co thickness [nm]")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(r"torque per area / $(\theta_{SH}\mu_B j_e/e)$")
    axes[0].set_title(f"Pt {T_PT:g} nm / Co: spin-orbit torques ($j_e$ = {J:.0e} A/m$^2$)", fontsize=10)
    axes[1].set_ylabel("field-like / damping-like")
    axes[1].set_title("torque ratio", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "torque_vs_thickness.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for k, (name, tr) in enumerate(traces.items()):
        ax.plot(tr[:, 0] * 1e9, tr[:, 1], color=f"C{k}", label=name)
    ts = np.linspace(0, 3e-9, 301)
    ax.fill_between(ts * 1e9, -1.05, -1.05 + 0.3 * np.array([pulse(t) for t in ts]), color="0.85",
                    label="|j| (pulse shape)")
    ax.set_xlabel("t [ns]")
    ax.set_ylabel(r"Co $\langle u_\perp \rangle$ (along the thickness)")
    ax.set_title(f"SOT switching: |j| up to {J_SW:.1e} A/m$^2$, {B_SW * 1e3:g} mT in-plane, "
                 rf"$K_{{eff}}$ = {K_EFF:.0e} J/m$^3$, $\alpha_G$ = {ALPHA:g}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "switching.png")
    plt.close(fig)
    logger.info("wrote %s", ", ".join(str(out / n) for n in (
        "strip", "torque_vs_thickness.csv", "torque_vs_thickness.png", "switching.csv", "switching.png")))
# -
