"""Ferromagnetic resonance of a small magnet: Kittel's frequency of a uniformly magnetised
spheroid and the frequency, damping and spectrum of a computed ringdown (the FMR demo,
demos/fmr.py, and tests/test_resonance.py).

A spheroid magnetised along its symmetry axis z by B0 precesses circularly at Kittel's
`omega = gamma (B0 + mu0 Ms (N_x - N_z)) / (1 + alpha_G^2)` (the Gilbert form's 1 + alpha^2), and
its in-plane moment `u_x + i u_y ~ exp((i - alpha_eff) omega t)` for small cones, so the ringdown
gives omega from its phase and alpha_eff from the decay of tan(theta/2) (exact for a macrospin
at any cone). The spectrum's Lorentzian has a full width at half maximum of 2 alpha_eff f in
power (a run much longer than the decay time 1/(alpha_eff omega)).
"""

from __future__ import annotations

import numpy as np

from fem_spin.physics.coefficients import GAMMA

MU0 = 4e-7 * np.pi


def osborn_factors(aspect: float) -> tuple[float, float, float]:
    """(N_x, N_y, N_z) of a spheroid with semi-axes a, a, c along z, aspect = c/a (Osborn, Phys.
    Rev. 67, 351 (1945)): prolate for aspect > 1, oblate below, 1/3 each for a sphere."""
    m = float(aspect)
    if not m > 0:
        raise ValueError(f"the spheroid's aspect ratio c/a must be positive, got {aspect!r}")
    if abs(m - 1.0) < 1e-9:
        nz = 1.0 / 3.0
    elif m > 1.0:
        s = np.sqrt(m * m - 1.0)
        nz = (m / s * np.log(m + s) - 1.0) / (m * m - 1.0)
    else:
        s = np.sqrt(1.0 - m * m)
        nz = (1.0 - m / s * np.arccos(m)) / (1.0 - m * m)
    nx = 0.5 * (1.0 - nz)
    return nx, nx, nz


def kittel_frequency(B0_T: float, Ms_A_per_m: float, aspect: float, alpha_G: float = 0.0) -> float:
    """Kittel's resonance frequency [Hz] of a spheroid (aspect = c/a) magnetised along its axis
    by B0 [T] along it; the Gilbert damping lowers it by 1/(1 + alpha_G^2)."""
    nx, _, nz = osborn_factors(aspect)
    b = B0_T + MU0 * Ms_A_per_m * (nx - nz)
    if b <= 0:
        raise ValueError(f"B0 = {B0_T!r} T does not hold the spheroid along its axis (B0 + mu0 Ms "
                         f"(N_x - N_z) = {b:.3g} T): no resonance about it")
    return GAMMA * b / (2 * np.pi * (1.0 + alpha_G ** 2))


def ringdown(t: np.ndarray, ux: np.ndarray, uy: np.ndarray, uz: np.ndarray, skip: float = 0.1) -> dict:
    """Frequency [Hz] (the phase's slope), alpha_eff (the decay rate of tan(theta/2) over
    omega), the cone at the start and the end [deg] of a precession about +z, from the magnet's
    average direction at times t; the first `skip` of the run (the start's transients, e.g.
    the non-uniform modes of a tilted start) is left out of the fits."""
    t, ux, uy, uz = (np.asarray(v, dtype=float) for v in (t, ux, uy, uz))
    if t.size < 8:
        raise ValueError(f"a ringdown needs at least 8 samples, got {t.size}")
    cone = np.arctan2(np.hypot(ux, uy), uz)
    phase = np.unwrap(np.arctan2(uy, ux))
    late = t >= t[0] + skip * (t[-1] - t[0])
    omega = np.polyfit(t[late], phase[late], 1)[0]
    rate = -np.polyfit(t[late], np.log(np.tan(cone[late] / 2)), 1)[0]
    return {"f_Hz": abs(omega) / (2 * np.pi), "sense": int(np.sign(omega)), "alpha_eff": rate / abs(omega),
            "cone_start_deg": float(np.degrees(cone[0])), "cone_end_deg": float(np.degrees(cone[-1]))}


def spectrum(t: np.ndarray, ux: np.ndarray, uy: np.ndarray, pad: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(f [Hz], power) of u_x + i u_y on a uniform time grid (zero-padded `pad` times, mean
    removed), f > 0 for a counter-clockwise precession about +z; the power normalised to its
    peak."""
    t = np.asarray(t, dtype=float)
    dt = np.diff(t)
    if t.size < 8 or np.ptp(dt) > 1e-6 * dt.mean():
        raise ValueError("the spectrum needs at least 8 samples on a uniform time grid (fixed steps)")
    z = np.asarray(ux, dtype=float) + 1j * np.asarray(uy, dtype=float)
    z = z - z.mean()
    n = pad * z.size
    power = np.abs(np.fft.fft(z, n)) ** 2  # exp(+i omega t) peaks at f = +omega/(2 pi)
    f = np.fft.fftfreq(n, dt.mean())
    order = np.argsort(f)
    return f[order], power[order] / power.max()


def half_width(f: np.ndarray, power: np.ndarray) -> tuple[float, float]:
    """(peak frequency, full width at half maximum) [Hz] of a normalised spectrum's highest peak,
    the half-maximum crossings interpolated linearly."""
    i = int(np.argmax(power))
    lo = i
    while lo > 0 and power[lo] > 0.5:
        lo -= 1
    hi = i
    while hi < power.size - 1 and power[hi] > 0.5:
        hi += 1
    if power[lo] > 0.5 or power[hi] > 0.5:
        raise ValueError("the spectrum's peak has no half maximum on both sides")
    left = f[lo] + (0.5 - power[lo]) * (f[lo + 1] - f[lo]) / (power[lo + 1] - power[lo])
    right = f[hi - 1] + (0.5 - power[hi - 1]) * (f[hi] - f[hi - 1]) / (power[hi] - power[hi - 1])
    return float(f[i]), float(right - left)
