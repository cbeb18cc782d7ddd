"""The paper's findings where our model agrees with them (docs/reproduction.md)."""

import numpy as np
import pytest

from fem_spin.case import resolve_case
from fem_spin.paper import ring_case, slab_case
from fem_spin.ring import equilibrium_along_loop
from fem_spin.runner import run_case


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
    # Paper: largest for orthogonal magnetizations (L = 100 nm: ours peaks at 90 deg).
    assert np.argmax(L100) == 3
    assert L100[3] == pytest.approx(0.889, rel=0.01)
    # Paper: larger for the smaller sample, at every angle.
    assert np.all(L10[1:-1] > 1.5 * L100[1:-1])
    # Where we differ (documented): at L = 10 nm ours peaks near 20-30 deg, not 90.
    assert np.argmax(L10) == 1


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
