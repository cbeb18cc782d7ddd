# # The paper's CPP slab sweeps: wall width (Figs. 6-7) and angle (Figs. 8-11)
#
# 1D slab (the paper's setting), paper preset (l_sf = 100 nm, a0 = beta = 100), P2 on
# a converged mesh. Each sweep writes one result folder per value (ParaView files,
# profile.csv), sweep.csv, and a figure in the paper's layout; the peak values are
# printed and saved to findings.json. Run: `python demos/slab_sweeps.py [OUT]`
# (or under mpirun).

# +
import json
from pathlib import Path

from mpi4py import MPI

from fem_spin.app.demo import demo_output
from fem_spin.app.paper import peaks, plot_figure, slab_case, sweep
from fem_spin.progress import configure_logging, logger

configure_logging()
out = demo_output(__file__, "results/paper")
comm = MPI.COMM_WORLD
findings = {}
# -

# Figs. 6-7: wider interface (larger inhomogeneity) at theta = 90 degrees, L = 100 nm.

# +
widths = [0.6, 1.2, 2.5, 5.0]
key = "magnetization.width_nm"
sweep(slab_case(), key, widths, out / "fig06-07_width", comm)
if comm.rank == 0:
    folder = out / "fig06-07_width"
    plot_figure(folder, key, widths, [0], out / "fig06_width_mx.png",
                "Fig. 6: m_x vs wall width w (theta = 90 deg, L = 100 nm)", " nm")
    plot_figure(folder, key, widths, [1, 2], out / "fig07_width_my_mz.png",
                "Fig. 7: m_y, m_z vs wall width w", " nm")
    findings["width_L100"] = peaks(folder, key, widths)
# -

# Figs. 8-11: angle theta at L = 100 nm and L = 10 nm (w = 0.6 nm).

# +
angles = [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0]
key = "magnetization.theta_deg"
for L in (100.0, 10.0):
    folder = out / f"fig08-11_theta_L{L:g}"
    sweep(slab_case(length=L), key, angles, folder, comm)
    if comm.rank == 0:
        findings[f"theta_L{L:g}"] = peaks(folder, key, angles)
if comm.rank == 0:
    plot_figure(out / "fig08-11_theta_L100", key, angles, [2], out / "fig08_theta_mz_L100.png",
                "Fig. 8: m_z vs angle, L = 100 nm", " deg")
    plot_figure(out / "fig08-11_theta_L10", key, angles, [2], out / "fig09_theta_mz_L10.png",
                "Fig. 9: m_z vs angle, L = 10 nm", " deg")
    plot_figure(out / "fig08-11_theta_L10", key, angles, [0], out / "fig10_theta_mx_L10.png",
                "Fig. 10: m_x vs angle, L = 10 nm", " deg")
    plot_figure(out / "fig08-11_theta_L10", key, angles, [1], out / "fig11_theta_my_L10.png",
                "Fig. 11: m_y vs angle, L = 10 nm", " deg")
    (out / "slab_findings.json").write_text(json.dumps(findings, indent=2) + "\n")
    for name, table in findings.items():
        logger.info("%s:", name)
        for v, row in table.items():
            logger.info("  %6g  %s", v, "  ".join(f"{k[8:]}={x:.4f}" for k, x in row.items()))
# -

# Fine sweeps (1-degree grid; L from 2 to 500 nm at 90 degrees): where the peaks really are.
# Only peak values are kept (no files per run): fine_sweeps.csv, fig_fine_sweeps.png.

# +
from fem_spin.app.paper import fine_sweeps, plot_fine_sweeps  # noqa: E402

fine_angles = [float(a) for a in range(0, 181)]
fine_lengths = [2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 500.0]
fine = fine_sweeps(fine_angles, fine_lengths, comm=comm)
if comm.rank == 0:
    plot_fine_sweeps(fine, fine_angles, fine_lengths, out / "fig_fine_sweeps.png")
    with open(out / "fine_sweeps.csv", "w") as fh:
        fh.write("theta_deg," + ",".join(f"peak_mx_L{L:g}" for L in fine["theta"]) + "\n")
        for i, a in enumerate(fine_angles):
            fh.write(f"{a:g}," + ",".join(f"{v[i]:.6g}" for v in fine["theta"].values()) + "\n")
        fh.write("\nlength_nm,peak_mx_theta90\n")
        fh.writelines(f"{L:g},{v:.6g}\n" for L, v in zip(fine_lengths, fine["length"]))
    for L, v in fine["theta"].items():
        k = max(range(len(v)), key=v.__getitem__)
        logger.info("L = %g nm: peak |m_x| %.4f at %g deg (%.4f at 90 deg)", L, v[k], fine_angles[k], v[90])
    logger.info("theta = 90 deg, peak |m_x| vs L: %s",
                ", ".join(f"{L:g}: {v:.3g}" for L, v in zip(fine_lengths, fine["length"])))
# -
