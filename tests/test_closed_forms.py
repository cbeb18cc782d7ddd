"""C1 and C2 (MODEL.md): 1D slabs against the closed-form solutions."""

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.physics.magnetization import Uniform
from fem_spin.physics.material import Material
from fem_spin.physics.problem import SpinProblem

from helpers import nodal_values, uniform_1d_slab

L = 100.0


def c1_exact(x, l_sf):
    s = x + L / 2
    return (np.sinh(s / l_sf) - np.sinh((L - s) / l_sf)) / np.sinh(L / l_sf)


def c2_exact(x, k, psi0, psiL):
    s = x + L / 2
    return (psi0 * np.sinh(k * (L - s)) + psiL * np.sinh(k * s)) / np.sinh(k * L)


def solve_uniform(h, degree, left, right, material=None):
    dom = uniform_1d_slab(L, h)
    p = SpinProblem(domain=dom, material=material or Material.paper(), magnetization=Uniform(),
                    degree=degree, dirichlet={"left_end": left, "right_end": right})
    p.solve()
    return p


def max_error(values, exact):
    comm = MPI.COMM_WORLD
    err = comm.allreduce(np.max(np.abs(values - exact), initial=0.0), op=MPI.MAX)
    peak = comm.allreduce(np.max(np.abs(exact), initial=0.0), op=MPI.MAX)
    return err / peak


@pytest.mark.mpi
def test_c1_collinear_sinh_profile():
    p = solve_uniform(1.0, 1, [0, 0, -1], [0, 0, 1])
    x, m = nodal_values(p)
    err = max_error(m[:, 2], c1_exact(x, 100.0))
    assert err < 1e-3
    # Nothing drives the transverse components: they stay zero.
    assert np.max(np.abs(m[:, :2]), initial=0.0) < 1e-12


@pytest.mark.mpi
@pytest.mark.parametrize("degree,h,tol", [(1, 0.0125, 1e-3), (2, 0.25, 1e-3)])
def test_c2_transverse_complex_decay(degree, h, tol):
    """a0 = beta = 100: psi oscillates with wavelength 6.3 nm and decays over 100 nm."""
    mat = Material.paper()
    k = mat.transverse_k
    assert abs(k - (1 - 100j) / 100.0) < 1e-12  # MODEL.md: k = (1 - i a0)/l_sf exactly
    p = solve_uniform(h, degree, [1, 0, 0], [0, 1, 0], mat)  # psi0 = 1, psiL = i
    x, m = nodal_values(p)
    psi = c2_exact(x, k, 1.0, 1j)
    err = max_error(m[:, 0] + 1j * m[:, 1], psi)
    assert err < tol, f"max error {err:.3e} of the peak"


@pytest.mark.serial
def test_c2_errors_decrease_under_refinement():
    """The P1 nodal error falls by ~4x per halving (it is not a lucky mesh)."""
    mat = Material.paper()
    errs = []
    for h in (0.2, 0.1):
        x, m = nodal_values(solve_uniform(h, 1, [1, 0, 0], [0, 1, 0], mat))
        errs.append(max_error(m[:, 0] + 1j * m[:, 1], c2_exact(x, mat.transverse_k, 1.0, 1j)))
    assert 3.0 < errs[0] / errs[1] < 5.0, errs
