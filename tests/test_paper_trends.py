"""The paper's findings where our model agrees with them (docs/reproduction.md)."""

import numpy as np
import pytest

from fem_spin.io.case import resolve_case
from fem_spin.app.paper import ring_case, slab_case
from fem_spin.geometry.ring import equilibrium_along_loop
from fem_spin.app.runner import run_case


def peak_mx(length, theta):
    case = slab_case(length=length, theta=theta)
    case["geometry"].update(h_interface_nm=0.15, h_far_nm=0.5)  # converged to < 1% (P2)
    case["output"]["profile_points"] = 1001
    return run_case(resolve_case(case), None).summary["max_abs_m"]["x"]


@pytest.mark.serial
def test_slab_transverse_accumulation_vs_angle_and_length():
    angles = [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0]
    L100 = np.array([peak_mx(100.0, a) for a in angles])
    L10 = np.array([peak_mx(10.0, a) for a in angles])
    # Collinear magnetizations give no transverse accumulation.
    assert L100[0] < 1e-10 and L100[-1] < 1e-10 and L10[0] < 1e-10
    assert L100[3] == pytest.approx(0.889, rel=0.01)
    # Paper: larger for the smaller sample, at every angle.
    assert np.all(L10[1:-1] > 1.5 * L100[1:-1])
    # Paper: largest for orthogonal magnetizations. Ours (docs/reproduction.md, 1-degree grid):
    # L = 100 nm peaks at 79 deg (0.905), L = 10 nm at 16 deg (9.31).
    fine100 = [peak_mx(100.0, a) for a in (77.0, 79.0, 81.0, 90.0)]
    assert np.argmax(fine100) == 1 and fine100[1] == pytest.approx(0.905, rel=0.01)
    assert fine100[1] > 1.01 * fine100[3]
    fine10 = [peak_mx(10.0, a) for a in (14.0, 16.0, 18.0, 30.0)]
    assert np.argmax(fine10) == 1 and fine10[1] == pytest.approx(9.31, rel=0.01)


@pytest.mark.serial
def test_slab_accumulation_vs_length_is_not_monotonic():
    """At 90 degrees: L = 5, 10, 20 nm give 15.8, 2.51, 4.98 (10 nm layers of 5 nm are close to
    one transverse wavelength, 6.3 nm)."""
    L5, L10, L20 = (peak_mx(L, 90.0) for L in (5.0, 10.0, 20.0))
    assert L5 == pytest.approx(15.8, rel=0.02) and L20 == pytest.approx(4.98, rel=0.02)
    assert L10 < 0.6 * L20 < 0.6 * L5


@pytest.mark.serial
def test_ring_nonequilibrium_part_largest_for_smallest_side():
    dev = {}
    for side in (10.0, 100.0):
        case = ring_case()
        case["geometry"]["length_nm"] = side
        case["output"]["profile_points"] = 801
        res = run_case(resolve_case(case), None)
        meq = equilibrium_along_loop(side, 801)
        dev[side] = np.max(np.linalg.norm(res.profile - meq, axis=1))
    assert dev[10.0] > 1.1 * dev[100.0]
