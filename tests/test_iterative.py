"""The scalable presets (iterative = p-multigrid, blr, shifted) against the direct one (issue 5)."""

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.physics.magnetization import Interface
from fem_spin.physics.material import Material
from fem_spin.geometry.mesh import SlabGeometry, build_slab
from fem_spin.physics.problem import SpinProblem, slab_problem
from fem_spin.geometry.ring import RingGeometry, RingMagnetization, build_ring
from fem_spin.app.build import auto_preset


def rel_diff(make, preset):
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
def test_blr_matches_direct_on_3d_slab(h):
    """P1, 20k and 55k DOFs: large enough that MUMPS really compresses (GMRES needs > 1 step)."""
    geo = SlabGeometry(dim=3, length=30.0, width=10.0, h_interface=h, h_far=h)
    dom = build_slab(geo)
    rel, its = rel_diff(lambda preset: slab_problem(dom, Material.paper(), Interface(theta=90.0, width=0.6),
                                                    degree=1, solver=preset), "blr")
    assert rel < 1e-6
    assert 2 <= its <= 10  # approximate factorization, bounded on both refinement levels


@pytest.mark.mpi
def test_blr_matches_direct_on_ring():
    dom = build_ring(RingGeometry(dim=2, side=10.0, width=1.0, h_corner=0.2, h_far=0.4))
    rel, its = rel_diff(lambda preset: SpinProblem(
        domain=dom, material=Material.paper(), magnetization=RingMagnetization(side=10.0),
        m_eq="magnetization", solver=preset), "blr")
    assert rel < 1e-6
    assert its <= 20


def moderate(a0):
    return Material(D=1e-3, tau_sf=1e-11, a0=a0, omega0=a0 / 1e-11)


def iterations_on_two_meshes(preset, a0, degree, length):
    """`preset` on 3D slabs with h = 1.0 and 0.7 nm: checks it matches `direct` to 1e-6 and
    returns the iteration counts."""
    its = []
    for h in (1.0, 0.7):
        dom = build_slab(SlabGeometry(dim=3, length=length, width=6.0, h_interface=h, h_far=h))
        rel, n = rel_diff(lambda name, dom=dom: slab_problem(
            dom, moderate(a0), Interface(theta=90.0, width=0.6), degree=degree, solver=name), preset)
        assert rel < 1e-6
        its.append(n)
    return its


@pytest.mark.mpi
@pytest.mark.parametrize("a0", [1.0, 10.0])
def test_shifted_laplacian_matches_direct_with_mesh_independent_iterations(a0):
    """a0 = beta = 1 and 10: GAMG alone fails here; the A-scaled shifted Laplacian does not."""
    its = iterations_on_two_meshes("shifted", a0, degree=1, length=40.0)
    assert max(its) <= (30 if a0 == 1.0 else 100), its
    assert abs(its[1] - its[0]) <= 0.15 * its[0] + 2, its  # does not grow with refinement


@pytest.mark.mpi
def test_shifted_laplacian_on_ring_p2():
    dom = build_ring(RingGeometry(dim=2, side=10.0, width=1.0, h_corner=0.2, h_far=0.4))
    rel, its = rel_diff(lambda preset: SpinProblem(
        domain=dom, material=moderate(3.0), magnetization=RingMagnetization(side=10.0),
        m_eq="magnetization", degree=2, solver=preset), "shifted")
    assert rel < 1e-6 and its < 200


@pytest.mark.mpi
@pytest.mark.parametrize("a0", [1.0, 100.0])
def test_iterative_matches_direct_and_iterations_do_not_grow(a0):
    """P2, 18k and 47k DOFs. At a0 = beta = 100 (the paper's Helmholtz-like case, where GAMG,
    ILU, ASM and the shifted Laplacians fail) iterations fall under refinement: the P1 coarse
    level resolves the transverse waves better (measured 41 -> 31; 18 -> 19 at a0 = 1)."""
    its = iterations_on_two_meshes("iterative", a0, degree=2, length=20.0)
    assert max(its) <= (25 if a0 == 1.0 else 50), its
    assert its[1] <= its[0] + 2, its


@pytest.mark.mpi
def test_iterative_on_ring_paper_parameters():
    dom = build_ring(RingGeometry(dim=2, side=10.0, width=1.0, h_corner=0.2, h_far=0.4))
    rel, its = rel_diff(lambda preset: SpinProblem(
        domain=dom, material=Material.paper(), magnetization=RingMagnetization(side=10.0),
        m_eq="magnetization", degree=2, solver=preset), "iterative")
    assert rel < 1e-6 and its <= 30


def test_iterative_needs_degree_2():
    dom = build_slab(SlabGeometry(dim=1, length=10.0, h_interface=0.5, h_far=0.5))
    with pytest.raises(ValueError, match="degree >= 2"):
        slab_problem(dom, Material.paper(), Interface(), degree=1, solver="iterative")


def test_auto_preset_by_size_degree_and_exchange():
    paper = Material.paper()
    assert auto_preset(40_000, paper.a0 * paper.beta, 2) == "direct"
    assert auto_preset(200_000, paper.a0 * paper.beta, 2) == "iterative"
    # meshes coarser than 1/|k|: LU up to 3e5 DOFs (measured faster at h = 1.2 nm, 124k DOFs)
    assert auto_preset(124_000, paper.a0 * paper.beta, 2, kh=1.2) == "direct"
    assert auto_preset(124_000, paper.a0 * paper.beta, 2, kh=0.9) == "iterative"
    assert auto_preset(400_000, paper.a0 * paper.beta, 2, kh=1.2) == "iterative"
    assert auto_preset(100_000, paper.a0 * paper.beta, 1) == "direct"
    assert auto_preset(200_000, paper.a0 * paper.beta, 1) == "blr"
    assert auto_preset(200_000, moderate(10.0).a0 * moderate(10.0).beta, 1) == "shifted"


@pytest.mark.mpi
def test_iterative_dispersion_correction_cuts_iterations():
    """The half-lumped P1 reaction cancels P1's phase error on the coarse level: on a 2D slab
    of 16 transverse wavelengths, fewer iterations than the plain Galerkin coarse operator
    (measured 17 vs 21), and the opposite sign is worse (31)."""
    dom = build_slab(SlabGeometry(dim=2, length=100.0, width=4.0, h_interface=0.7, h_far=0.7))
    its = {}
    for lumping in (0.0, 0.5, -0.5):
        p = slab_problem(dom, Material.paper(), Interface(theta=90.0, width=0.6), degree=2,
                         solver="iterative", petsc_options={"pmg_lumping": lumping})
        p.solve()
        its[lumping] = p.iterations
    assert its[0.5] + 3 <= its[0.0] <= its[-0.5] - 3, its
