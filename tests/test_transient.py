"""C3 (MODEL.md): uniform decay with precession, measured order in time."""

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.physics.magnetization import Uniform
from fem_spin.physics.material import Material
from fem_spin.physics.problem import SpinProblem
from fem_spin.physics.transient import run_transient

from helpers import uniform_1d_slab

# beta = omega0 tau_sf = 5: five radians of precession per spin-flip time.
MAT = Material(D=1e-3, tau_sf=1e-11, a0=5.0, omega0=5e11)
M0 = np.array([0.6, 0.0, 0.8])


def exact(t_over_tau):
    """dm/dt = -m/tau - omega x m with omega = -omega0 z: psi = m_x + i m_y turns
    counter-clockwise about +u = +z, as a moment about a field along +z (ferromagnetic sd)."""
    psi = (M0[0] + 1j * M0[1]) * np.exp(-(1 - 1j * MAT.beta) * t_over_tau)
    return np.array([psi.real, psi.imag, M0[2] * np.exp(-t_over_tau)])


def final_error(nsteps, theta):
    dom = uniform_1d_slab(10.0, 2.0)
    p = SpinProblem(domain=dom, material=MAT, magnetization=Uniform(), degree=1)  # no Dirichlet ends
    t_end = 1.0 * MAT.tau_sf
    m = run_transient(p, t_end, t_end / nsteps, theta=theta,
                      m0=lambda x: np.tile(M0[:, None], (1, x.shape[1])))
    vals = m.x.array.reshape(-1, 3)
    err = np.max(np.abs(vals - exact(1.0)), initial=0.0)
    return MPI.COMM_WORLD.allreduce(err, op=MPI.MAX)


@pytest.mark.mpi
@pytest.mark.parametrize("theta,order,levels", [(1.0, 1.0, (160, 320, 640)), (0.5, 2.0, (40, 80, 160))])
def test_c3_uniform_precessing_decay_order(theta, order, levels):
    errors = [final_error(n, theta) for n in levels]
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert abs(rates[-1] - order) < 0.1, (errors, rates)
    assert errors[-1] < (5e-3 if theta == 1.0 else 1e-4)


@pytest.mark.mpi
def test_accumulation_turns_counter_clockwise_about_the_magnetization():
    """The sign of the sd exchange pinned to a physical fact (MODEL.md): the conduction moments,
    coupled ferromagnetically to the local ones, precess about +u as a moment does about a field
    along +u, counter-clockwise seen from +u (du/dt = -gamma u x B). Uniform u = +z, m starting
    along +x, a quarter of a turn later (t = pi/(2 omega0)): m along +y, at the decayed length.
    The antiferromagnetic sign turned it to -y."""
    dom = uniform_1d_slab(10.0, 2.0)
    p = SpinProblem(domain=dom, material=MAT, magnetization=Uniform(), degree=1)
    t_end = np.pi / (2 * MAT.omega0)
    m = run_transient(p, t_end, t_end / 200, theta=0.5,
                      m0=lambda x: np.vstack([np.ones(x.shape[1]), 0 * x[0], 0 * x[0]]))
    vals = m.x.array.reshape(-1, 3)
    decay = np.exp(-t_end / MAT.tau_sf)
    assert np.allclose(vals[:, 1], decay, rtol=1e-3) and np.allclose(vals[:, 0], 0.0, atol=1e-3), vals[0]
