"""Small shared helpers for the tests."""

import numpy as np

from fem_spin.geometry.mesh import SlabGeometry, build_slab


def uniform_1d_slab(length: float, h: float, comm=None):
    """A 1D slab on [-L/2, L/2] with uniform element size h."""
    from mpi4py import MPI

    geo = SlabGeometry(dim=1, length=length, h_interface=h, h_far=h)
    return build_slab(geo, comm or MPI.COMM_WORLD)


def nodal_values(problem):
    """(x, m) at the dofs of m, sorted by x (1D meshes)."""
    x = problem.V.tabulate_dof_coordinates()[:, 0]
    n = problem.V.dofmap.index_map.size_local
    m = problem.m.x.array.reshape(-1, 3)[:n]
    order = np.argsort(x[:n])
    return x[:n][order], m[order]
