"""C5 (MODEL.md): the 3D slab gives the same solution on 1 and 2 MPI ranks.

Run by the test command under `mpirun -n 2`: each rank count solves the same
Gmsh mesh; rank 0 also solves it alone (COMM_SELF) and compares point values.
"""

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.physics.magnetization import Interface
from fem_spin.physics.material import Material
from fem_spin.geometry.mesh import SlabGeometry, build_slab
from fem_spin.io.output import sample
from fem_spin.physics.problem import slab_problem

GEO = SlabGeometry(dim=3, length=20.0, width=2.0, h_interface=0.3, h_far=0.8)


def solve_on(comm):
    dom = build_slab(GEO, comm)
    p = slab_problem(dom, Material.paper(), Interface(theta=90.0, width=0.6), degree=1)
    p.solve()
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(-9.9, 9.9, 200), rng.uniform(-0.9, 0.9, (200, 2))])
    return sample(p.m, pts), p.num_dofs


@pytest.mark.mpi
def test_c5_same_solution_on_1_and_n_ranks():
    world = MPI.COMM_WORLD
    if world.size == 1:
        pytest.skip("needs mpirun -n 2 (the test command runs it so)")
    values, dofs = solve_on(world)
    if world.rank == 0:
        serial, serial_dofs = solve_on(MPI.COMM_SELF)
        assert serial_dofs == dofs
        assert not np.isnan(values).any()
        rel = np.max(np.abs(values - serial)) / np.max(np.abs(serial))
        assert rel < 1e-8, f"1 vs {world.size} ranks differ by {rel:.2e}"
        assert np.max(np.abs(serial[:, 0])) > 0.1  # transverse accumulation really is there
    world.Barrier()
