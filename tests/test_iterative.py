"""The iterative preset (GMRES + BLR MUMPS) against the direct one (issue 5)."""

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.magnetization import Interface
from fem_spin.material import Material
from fem_spin.mesh import SlabGeometry, build_slab
from fem_spin.problem import SpinProblem, slab_problem
from fem_spin.ring import RingGeometry, RingMagnetization, build_ring


def rel_diff(make, preset="iterative"):
    """Relative difference of `preset` to `direct` (owned dofs, numpy: no PETSc objects are
    left for the garbage collector, whose timing differs between ranks) and its iterations."""
    sols, its = {}, {}
    for name in ("direct", preset):
        p = make(name)
        p.solve()
        n = p.V.dofmap.index_map.size_local * 3
        sols[name] = p.m.x.array[:n].copy()
        its[name] = p.iterations
    comm = MPI.COMM_WORLD
    diff = comm.allreduce(float(np.sum((sols["direct"] - sols[preset]) ** 2)), op=MPI.SUM)
    ref = comm.allreduce(float(np.sum(sols["direct"] ** 2)), op=MPI.SUM)
    return np.sqrt(diff / ref), its[preset]


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


def moderate(a0):
    return Material(D=1e-3, tau_sf=1e-11, a0=a0, omega0=a0 / 1e-11)


@pytest.mark.mpi
@pytest.mark.parametrize("a0", [1.0, 10.0])
def test_shifted_laplacian_matches_direct_with_mesh_independent_iterations(a0):
    """a0 = beta = 1 and 10: GAMG alone fails here; the A-scaled shifted Laplacian does not."""
    its = []
    for h in (1.0, 0.7):
        dom = build_slab(SlabGeometry(dim=3, length=40.0, width=6.0, h_interface=h, h_far=h))
        rel, n = rel_diff(lambda preset: slab_problem(dom, moderate(a0), Interface(theta=90.0, width=0.6),
                                                      degree=1, solver=preset), "shifted")
        assert rel < 1e-6
        its.append(n)
    assert max(its) <= (30 if a0 == 1.0 else 100), its
    assert abs(its[1] - its[0]) <= 0.15 * its[0] + 2, its  # does not grow with refinement


@pytest.mark.mpi
def test_shifted_laplacian_on_ring_p2():
    dom = build_ring(RingGeometry(dim=2, side=10.0, width=1.0, h_corner=0.2, h_far=0.4))
    rel, its = rel_diff(lambda preset: SpinProblem(
        domain=dom, material=moderate(3.0), magnetization=RingMagnetization(side=10.0),
        m_eq="magnetization", degree=2, solver=preset), "shifted")
    assert rel < 1e-6 and its < 200
