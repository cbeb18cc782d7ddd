# # Ferromagnetic resonance: the ringdown of a spheroid against Kittel's formula
#
# `demos/fmr.toml`: a prolate permalloy-like spheroid (c/a = 1.7, Ms = 6.5e5 A/m) with its
# demagnetizing field, held along its axis by B0 = 0.1 T and tipped 6 degrees off it, rings
# down for 3 ns in 1 ps steps of the default time scheme (the implicit midpoint rule, which
# adds no damping of its own). Its average direction precesses counter-clockwise about +z (the
# sense of a moment about a field) at Kittel's frequency
# `f = gamma (B0 + mu0 Ms (N_x - N_z)) / (2 pi (1 + alpha_G^2))` with Osborn's N (a uniform
# mode: the spheroid's own demag field is uniform), and its cone decays at the rate
# alpha_G 2 pi f. The spectrum of <u_x> + i <u_y> is a Lorentzian of full width 2 alpha_G f.
# Run: `python demos/fmr.py [OUT]` (default results/fmr; `mpirun -n 2` works too; about 3 min
# on one core). Writes OUT/ (the result folder: u_t.pvd, dynamics.csv, summary.json),
# OUT/fmr.json (the numbers below) and OUT/fmr.png (the ringdown and the spectrum).

# +
import json
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem_spin.app.demo import demo_output
from fem_spin.app.runner import run_case
from fem_spin.io.case import load_case
from fem_spin.physics.resonance import half_width, kittel_frequency, osborn_factors, ringdown, spectrum
from fem_spin.progress import configure_logging, logger

configure_logging()
comm = MPI.COMM_WORLD
out = demo_output(__file__, "results/fmr")
case = load_case(Path(__file__).with_name("fmr.toml"))
run_case(case, out, overwrite=True, comm=comm)
# -

# The ringdown (every step's row of dynamics.csv) and Kittel's prediction for this spheroid.

# +
if comm.rank == 0:
    rows = np.genfromtxt(out / "dynamics.csv", delimiter=",", names=True)
    t, ux, uy, uz = rows["t_s"], rows["u_x_magnet"], rows["u_y_magnet"], rows["u_z_magnet"]
    p = case["geometry"]["parameters"]
    mat = case["material"]
    aspect = p["c"] / p["a"]
    B0 = case["field"]["B_T"][2]
    alpha = mat["alpha_G"]
    kittel = kittel_frequency(B0, mat["Ms_A_per_m"], aspect, alpha)
    fit = ringdown(t, ux, uy, uz)
    f, power = spectrum(t, ux, uy)
    peak, fwhm = half_width(f, power)
    result = {
        "N_x, N_z (Osborn)": [osborn_factors(aspect)[0], osborn_factors(aspect)[2]],
        "f_kittel_GHz": kittel / 1e9,
        "f_ringdown_GHz": fit["f_Hz"] / 1e9,
        "f_spectrum_peak_GHz": peak / 1e9,
        "f_error": fit["f_Hz"] / kittel - 1.0,
        "sense (+1 counter-clockwise about +z)": fit["sense"],
        "alpha_G": alpha,
        "alpha_eff": fit["alpha_eff"],
        "fwhm_GHz": fwhm / 1e9,
        "fwhm_expected_GHz (2 alpha_G f)": 2 * alpha * kittel / 1e9,
        "cone_deg": [fit["cone_start_deg"], fit["cone_end_deg"]],
        "max_error_estimate": float(np.nanmax(rows["error_estimate"])),
    }
    (out / "fmr.json").write_text(json.dumps(result, indent=2) + "\n")
    logger.info("FMR of the spheroid (c/a = %.2f, B0 = %g T): f = %.4f GHz from the ringdown, %.4f GHz "
                "Kittel (%+.2f%%); alpha_eff = %.5f for alpha_G = %g; spectrum FWHM %.3f GHz, 2 alpha_G f = "
                "%.3f GHz", aspect, B0, fit["f_Hz"] / 1e9, kittel / 1e9, 100 * result["f_error"],
                fit["alpha_eff"], alpha, fwhm / 1e9, 2 * alpha * kittel / 1e9)
# -

# The figure: the in-plane moment ringing down inside its envelope, and the spectrum's
# Lorentzian beside Kittel's line.

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(t * 1e9, ux, lw=0.8, label="<u_x>")
    a1.plot(t * 1e9, np.hypot(ux, uy), "k--", lw=0.8, label="cone: |<u_x> + i <u_y>|")
    a1.set(xlabel="t [ns]", ylabel="<u>", title="ringdown")
    a1.legend()
    band = (f > 0) & (f < 3 * kittel)
    lorentz = 1.0 / (1.0 + ((f[band] - kittel) / (alpha * kittel)) ** 2)
    a2.plot(f[band] / 1e9, power[band], label="|FFT(<u_x> + i <u_y>)|^2")
    a2.plot(f[band] / 1e9, lorentz, "k:", label="Lorentzian at Kittel's f, FWHM 2 alpha_G f")
    a2.axvline(kittel / 1e9, color="0.5", lw=0.8, ls="--")
    a2.set(xlabel="f [GHz]", ylabel="power (peak 1)",
           title=f"f = {fit['f_Hz'] / 1e9:.3f} GHz (Kittel {kittel / 1e9:.3f}), alpha_eff = {fit['alpha_eff']:.4f}")
    a2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "fmr.png", dpi=120)
    logger.info("wrote %s and %s", out / "fmr.json", out / "fmr.png")
# -
