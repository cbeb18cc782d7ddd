"""The iterative preset (GMRES + BLR MUMPS) against the direct one (issue 5)."""

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.magnetization import Interface
from fem_spin.material import Material
from fem_spin.mesh import SlabGeometry, build_slab
from fem_spin.problem import SpinProblem, slab_problem
from fem_spin.ring import RingGeometry, RingMagnetization, build_ring


def rel_diff(make):
    sols, its = {}, {}
    for preset in ("direct", "iterative"):
        p = make(preset)
        p.solve()
        sols[preset] = p.m.x.petsc_vec.copy()
        its[preset] = p.iterations
    diff = sols["direct"].copy()
    diff.axpy(-1.0, sols["iterative"])
    return diff.norm() / sols["direct"].norm(), its["iterative"]


@pytest.mark.mpi
@pytest.mark.parametrize("h", [0.7, 0.5])
def test_iterative_matches_direct_on_3d_slab(h):
    """20k and 55k DOFs: large enough that MUMPS really compresses (GMRES needs > 1 step)."""
    geo = SlabGeometry(dim=3, length=30.0, width=10.0, h_interface=h, h_far=h)
    dom = build_slab(geo)
    rel, its = rel_diff(lambda preset: slab_problem(dom, Material.paper(), Interface(theta=90.0, width=0.6),
                                                    degree=1, solver=preset))
    assert rel < 1e-6
    assert 2 <= its <= 10  # approximate factorization, bounded on both refinement levels


@pytest.mark.mpi
def test_iterative_matches_direct_on_ring():
    dom = build_ring(RingGeometry(dim=2, side=10.0, width=1.0, h_corner=0.2, h_far=0.4))
    rel, its = rel_diff(lambda preset: SpinProblem(
        domain=dom, material=Material.paper(), magnetization=RingMagnetization(side=10.0),
        m_eq="magnetization", solver=preset))
    assert rel < 1e-6
    assert its <= 20
