"""The square ring: closed mesh, m = m_eq for uniform M, same answer on 1 and 2 ranks."""

import numpy as np
import pytest
from mpi4py import MPI

import dolfinx
from fem_spin.physics.magnetization import Uniform
from fem_spin.physics.material import Material
from fem_spin.io.output import sample
from fem_spin.physics.problem import SpinProblem
from fem_spin.geometry.ring import RingGeometry, RingMagnetization, build_ring, centreline, local_frame

GEO2 = RingGeometry(dim=2, side=10.0, width=2.0, h_corner=0.25, h_far=0.5)


@pytest.mark.mpi
@pytest.mark.parametrize("dim", [2, 3])
def test_ring_mesh_is_closed(dim):
    geo = RingGeometry(dim=dim, side=10.0, width=2.0, h_corner=0.4, h_far=0.8)
    dom = build_ring(geo)
    mesh, tdim = dom.mesh, dom.mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    ext = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    n_ext = mesh.comm.allreduce(len(ext), op=MPI.SUM)
    walls = dom.facet_tags.find(dom.facets["wall"])
    owned = mesh.topology.index_map(tdim - 1).size_local
    assert mesh.comm.allreduce(int(np.sum(walls < owned)), op=MPI.SUM) == n_ext
    # Every exterior facet is on the inner or outer wall (or top/bottom in 3D): none
    # crosses the loop, so the loop has no ends.
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim - 1, ext)
    px, py = np.abs(mid[:, 0] - 5.0), np.abs(mid[:, 1] - 5.0)
    on_square = np.isclose(np.maximum(px, py), 6.0) | np.isclose(np.maximum(px, py), 4.0)
    on_lid = np.isclose(np.abs(mid[:, 2]), 1.0) if dim == 3 else np.zeros_like(on_square)
    assert np.all(on_square | on_lid)
    assert n_ext > 0 and dom.num_cells() > 0
    assert sorted(dom.cells) == sorted([f"side_{i}" for i in range(4)] + [f"corner_{i}" for i in range(4)])


@pytest.mark.mpi
def test_uniform_magnetization_gives_equilibrium():
    """Uniform M normal to the loop's plane and m_eq = M/M0: m = m_eq exactly."""
    p = SpinProblem(domain=build_ring(GEO2), material=Material.paper(), magnetization=Uniform(),
                    m_eq="magnetization", degree=2)
    m = p.solve().x.array.reshape(-1, 3)
    assert np.allclose(m, [0.0, 0.0, 1.0], atol=1e-10)


def test_ring_magnetization_turns_90_degrees_and_dips():
    prof = RingMagnetization(side=10.0, width=0.6)
    s, pts = centreline(10.0, 9)  # corners and mid-sides
    M = prof(pts.T)
    assert np.allclose(np.linalg.norm(M[:, ::2], axis=0), 0.0)  # corners: s = 0, 10, ...
    mids = M[:, 1::2]
    assert np.allclose(mids.T, [[0, 0, 1], [1, 0, 0], [0, 0, -1], [1, 0, 0]], atol=1e-4)
    which, _, _ = local_frame(pts.T[:, 1::2], 10.0)
    assert list(which) == [0, 1, 2, 3]


@pytest.mark.mpi
def test_ring_same_on_1_and_2_ranks():
    world = MPI.COMM_WORLD
    if world.size == 1:
        pytest.skip("needs mpirun -n 2")

    def solve(comm):
        p = SpinProblem(domain=build_ring(GEO2, comm), material=Material.paper(),
                        magnetization=RingMagnetization(side=10.0, width=0.6), m_eq="magnetization")
        p.solve()
        return sample(p.m, centreline(10.0, 101)[1])

    par = solve(world)
    if world.rank == 0:
        ser = solve(MPI.COMM_SELF)
        assert np.max(np.abs(par - ser)) < 1e-8 * np.max(np.abs(ser))
        assert np.max(np.abs(ser)) > 0.01
    world.Barrier()
