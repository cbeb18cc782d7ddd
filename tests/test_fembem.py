"""FEM-BEM demag (fem_spin.physics.fembem, Fredkin-Koehler) against closed forms.

Lindholm's weights against the kernel's integral by brute quadrature; the boundary matrix's
solid angles at a cube's faces, edges and corners (1/2, 1/4, 1/8 of the full angle: exact for
flat faces); the far-field rule against the exact weights; C11 (a sphere's H_d = -M/3 and its
energy), Osborn's spheroids and Aharoni's film; the same numbers on 1 and 2 ranks; and in a
device's LLG (`[dynamics] demag_method = "fembem"`) against the shell transformation.
Numbers: docs/magnetostatics.md ("FEM-BEM").
"""

import functools
import math

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.geometry import air
from fem_spin.geometry.mesh import mesh_model
from fem_spin.physics.fembem import FredkinKoehler, double_layer_rows, lindholm
from fem_spin.physics.magnetostatics import MU0
from test_magnetostatics import aharoni_nz, osborn_nz, uniform

MS = 8.0e5


def magnet(shape, h: float, comm=MPI.COMM_WORLD):
    """A magnet alone (no air), element size h [nm]: shape(gmsh) adds it (fem_spin.geometry.air)."""
    def add(gmsh):
        shape(gmsh)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMin", h)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMax", h)
    return mesh_model(comm, add, gdim=3)


def field_of(dom, **kwargs) -> FredkinKoehler:
    return FredkinKoehler(dom.mesh, dom.cell_tags, {dom.cells["magnet"]: MS}, **kwargs)


def tensor(f: FredkinKoehler) -> np.ndarray:
    """-<H_d>/Ms for u = x, y, z: the magnetometric demagnetizing tensor (columns)."""
    cols = []
    for e in np.eye(3):
        f.compute(uniform(e))
        cols.append(-f.average() / MS)
    return np.array(cols).T


def test_lindholm_weights_are_the_kernel_integrated():
    """L_i = (1/4pi) int_T N_i (x - y).n/|x - y|^3 against a 320 000-point rule, above, below,
    beside, far from and 0.05 over a triangle: to 1e-4 (measured 2e-6), and sum L_i = -Omega/4pi."""
    tri = np.array([[0.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.3, 0.9, 0.2]])
    n = 400
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    up, down = i + j < n, i + j < n - 1
    b1 = np.concatenate([(i[up] + 1 / 3) / n, (i[down] + 2 / 3) / n])
    b2 = np.concatenate([(j[up] + 1 / 3) / n, (j[down] + 2 / 3) / n])
    bary = np.column_stack([1 - b1 - b2, b1, b2])
    y = bary @ tri
    normal = np.cross(tri[1] - tri[0], tri[2] - tri[0])
    area = 0.5 * np.linalg.norm(normal)
    normal /= 2 * area
    for x in ([0.4, 0.3, 0.7], [0.4, 0.3, -0.5], [2.0, -1.0, 0.3], [0.1, 0.1, 0.05], [30.0, 4.0, 2.0]):
        x = np.asarray(x)
        d = x - y
        k = d @ normal / np.linalg.norm(d, axis=1) ** 3 * (area / n**2) / (4 * np.pi)
        brute = bary.T @ k
        L, omega = lindholm(x[None], tri[None])
        assert np.allclose(L[0], brute, rtol=1e-4, atol=1e-4 * np.abs(brute).max()), (x, L[0], brute)
        assert L[0].sum() == pytest.approx(-omega[0] / (4 * np.pi), rel=1e-12)


@pytest.fixture(scope="module")
def cube():
    dom = magnet(functools.partial(air.add_box, lx=20.0, ly=20.0, lz=20.0), 4.0, MPI.COMM_SELF)
    return dom, field_of(dom)


def test_boundary_matrix_sees_the_solid_angles(cube):
    """B's diagonal is Omega/4pi - 1 with Omega the cube's solid angle at the node: -1/2 on a
    face, -3/4 on an edge, -7/8 at a corner (a wrong sign or missing 4pi is off by far more
    than 2e-3, measured 2e-5); every row sums to -1 (a constant phi1 is taken out)."""
    dom, f = cube
    x = f.V.tabulate_dof_coordinates()[f.rows]
    on = (np.abs(np.abs(x) - 10.0) < 1e-6).sum(axis=1)  # how many faces hold the node
    expected = {1: -0.5, 2: -0.75, 3: -0.875}
    diag = f.Bmat[np.arange(len(f.rows)), f.row_cols]
    for faces, value in expected.items():
        assert np.any(on == faces)
        assert np.allclose(diag[on == faces], value, atol=2e-3), (faces, diag[on == faces])
    assert np.allclose(f.Bmat.sum(axis=1), -1.0, atol=1e-12)


def test_far_field_rule_is_the_exact_matrix(cube):
    """The edge-midpoint rule beyond 4 edges against Lindholm's weights everywhere: B within
    1e-4 (Frobenius, relative; measured ~2e-5), each row within 1e-3 in sum of |.|."""
    dom, f = cube
    x = f.V.tabulate_dof_coordinates()[f.rows]
    exact = double_layer_rows(x, f.row_cols, f.tri, f.tri_cols, f.n_surface, near=1e9)
    rule = double_layer_rows(x, f.row_cols, f.tri, f.tri_cols, f.n_surface)
    assert np.linalg.norm(rule - exact) < 1e-4 * np.linalg.norm(exact)
    assert np.abs(rule - exact).sum(axis=1).max() < 1e-3


@pytest.mark.mpi
def test_c11_sphere_is_minus_a_third():
    """A sphere R = 10 nm, h = 2 nm, u = z (the magnet alone, 2.4e3 cells): N_zz = 1/3 to 1%
    (measured 0.33087, -0.74%), N_xx, N_yy too, no off-diagonal part (< 1e-3); the field is
    uniform node by node to 3% inside r < 7 nm; E_d = (mu0/6) Ms^2 V of the faceted
    volume to 1.5%."""
    dom = magnet(functools.partial(air.add_spheroid, a=10.0, c=10.0), 2.0)
    f = field_of(dom)
    N = tensor(f)
    assert np.allclose(np.diag(N), 1 / 3, rtol=0.01), N
    assert np.abs(N - np.diag(np.diag(N))).max() < 1e-3, N
    f.compute(uniform((0, 0, 1)))
    x = f.U.tabulate_dof_coordinates()
    n = f.U.dofmap.index_map.size_local
    inner = np.linalg.norm(x[:n], axis=1) < 7.0
    Hz = f.H.x.array.reshape(-1, 3)[:n][inner, 2]
    worst = MPI.COMM_WORLD.allreduce(float(np.abs(Hz / (-MS / 3) - 1).max(initial=0.0)), op=MPI.MAX)
    assert worst < 0.03, worst
    E = f.energy()
    assert E == pytest.approx(MU0 / 6 * MS**2 * f.volume * 1e-27, rel=0.015)
    f.destroy()


@pytest.mark.mpi
def test_two_spheres_feel_each_others_dipole():
    """Two spheres R = 5 nm, 15 nm apart along x, magnetised along z then x: two pieces, so
    the Neumann matrix has two constants in its null space (with one, CG stopped with
    DIVERGED_INDEFINITE_MAT). Each sphere's mean field gains the other's dipole field at its
    centre, exactly (a harmonic field's mean over a ball): -<H_z>/Ms by R^3/(3 d^3) = 0.01235,
    -<H_x>/Ms by -2 R^3/(3 d^3), both to 5% (measured -2.6%, -2.9% at h = 1.5 nm, the faceted
    spheres' volume; -1.3%, -1.2% at 1 nm)."""
    R, d, h = 5.0, 15.0, 1.5

    def two_spheres(gmsh):
        occ = gmsh.model.occ
        a, b = occ.addSphere(-d / 2, 0, 0, R), occ.addSphere(d / 2, 0, 0, R)
        occ.synchronize()
        gmsh.model.addPhysicalGroup(3, [a, b], 1, name="magnet")

    f = field_of(magnet(two_spheres, h))
    g = field_of(magnet(functools.partial(air.add_spheroid, a=R, c=R, center=(-d / 2, 0.0, 0.0)), h))
    assert f.components == 2 and g.components == 1
    alone, pair = tensor(g), tensor(f)  # a sphere alone on the same mesh: its own N
    z = pair[2, 2] - alone[2, 2]
    x = pair[0, 0] - alone[0, 0]
    assert z == pytest.approx(R**3 / (3 * d**3), rel=0.05)
    assert x == pytest.approx(-2 * R**3 / (3 * d**3), rel=0.05)
    f.destroy()
    g.destroy()


@pytest.mark.parametrize("a, c, h", [(10.0, 20.0, 2.0), (10.0, 5.0, 1.5)], ids=["prolate_2", "oblate_half"])
def test_spheroids_against_osborn(a, c, h):
    """Osborn's N_z and N_x = (1 - N_z)/2 to 1%."""
    dom = magnet(functools.partial(air.add_spheroid, a=a, c=c), h)
    f = field_of(dom)
    N = tensor(f)
    exact = osborn_nz(c / a)
    assert N[2, 2] == pytest.approx(exact, rel=0.01)
    assert N[0, 0] == pytest.approx((1 - exact) / 2, rel=0.01)
    f.destroy()


def test_thin_film_against_aharoni():
    """100 x 100 x 5 nm, h = 3.5 nm (as the shell's test): N_zz to 1%, N_xx to 5%."""
    L, t = 100.0, 5.0
    dom = magnet(functools.partial(air.add_box, lx=L, ly=L, lz=t), 3.5)
    f = field_of(dom)
    N = tensor(f)
    assert N[2, 2] == pytest.approx(aharoni_nz(L / 2, L / 2, t / 2), rel=0.01)
    assert N[0, 0] == pytest.approx(aharoni_nz(L / 2, t / 2, L / 2), rel=0.05)
    f.destroy()


@pytest.mark.mpi
def test_same_numbers_on_1_and_2_ranks():
    """An oblique u on the cube of edge 20 nm, 2 ranks against rank 0 alone: N and E_d to 1e-6."""
    world = MPI.COMM_WORLD
    if world.size == 1:
        pytest.skip("needs mpirun -n 2 (the test command runs it so)")

    def numbers(comm):
        dom = magnet(functools.partial(air.add_box, lx=20.0, ly=20.0, lz=20.0), 3.0, comm)
        f = field_of(dom)
        f.compute(lambda x: np.vstack([np.cos(0.05 * x[2]), np.sin(0.05 * x[2]), 0.3 + 0 * x[0]]))
        out = np.concatenate([f.average(), [f.energy()]])
        f.destroy()
        return out

    parallel = numbers(world)
    if world.rank == 0:
        serial = numbers(MPI.COMM_SELF)
        assert np.max(np.abs(parallel - serial)) <= 1e-6 * np.max(np.abs(serial)), (parallel, serial)
    world.Barrier()


def test_a_matrix_too_large_is_refused_before_it_is_built():
    """An input error (exit 2, printed once: every rank knows the size) naming the key and the
    way out."""
    from fem_spin.io.case import InputError

    dom = magnet(functools.partial(air.add_box, lx=20.0, ly=20.0, lz=20.0), 4.0, MPI.COMM_SELF)
    with pytest.raises(InputError, match=r"demag_method = \"fembem\".*demag_method = \"shell\""):
        field_of(dom, max_bytes=1e3)


@pytest.mark.mpi
def test_one_blas_thread_per_rank(monkeypatch):
    """On several ranks numpy's OpenBLAS gets one thread each (n ranks x n threads on n cores
    made FEM-BEM's matrix 3x slower to build); one rank, or a thread count the user set, is
    left alone."""
    from fem_spin.parallel import BLAS_THREAD_VARS, _numpy_openblas, one_blas_thread_per_rank

    blas = _numpy_openblas()
    if blas is None:
        pytest.skip("this numpy has no OpenBLAS of its own (conda-forge): the variables decide")
    set_threads, get_threads = blas
    before = get_threads()
    comm = MPI.COMM_WORLD
    try:
        set_threads(2)
        for var in BLAS_THREAD_VARS:
            monkeypatch.delenv(var, raising=False)
        assert one_blas_thread_per_rank(comm) == (comm.size > 1)
        assert get_threads() == (1 if comm.size > 1 else 2)
        set_threads(2)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert not one_blas_thread_per_rank(comm) and get_threads() == 2
    finally:
        set_threads(before)
