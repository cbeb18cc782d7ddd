"""The charge current (issue 12): exact V and j_e in a two-conductivity bar, current
conservation through every cross-section of a constriction, floating current contacts."""

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin._backend import dolfinx, ufl
from fem_spin.geometry.mesh import build_from_file, inspect_mesh_file
from fem_spin.physics.potential import solve_potential

BAR = """
Point(1) = {0, 0, 0, 0.5}; Point(2) = {4, 0, 0, 0.5}; Point(3) = {10, 0, 0, 0.5};
Line(1) = {1, 2}; Line(2) = {2, 3};
Physical Curve("a", 1) = {1}; Physical Curve("b", 2) = {2};
Physical Point("left", 1) = {1}; Physical Point("right", 2) = {3};
"""
CONSTRICTION = """
SetFactory("OpenCASCADE");
Rectangle(1) = {0, 0, 0, 10, 6};
Rectangle(2) = {10, 2, 0, 4, 2};
Rectangle(3) = {14, 0, 0, 10, 6};
BooleanFragments{ Surface{1}; Delete; }{ Surface{2, 3}; Delete; }
Physical Surface("metal", 1) = {1, 2, 3};
Physical Curve("left", 1) = Curve In BoundingBox{-1e-6, -1, -1, 1e-6, 7, 1};
Physical Curve("right", 2) = Curve In BoundingBox{24 - 1e-6, -1, -1, 24 + 1e-6, 7, 1};
Mesh.MeshSizeMax = 0.7;
"""


def device(folder, text, name, comm=MPI.COMM_WORLD):
    path = folder / f"{name}.geo"
    if comm.rank == 0:
        path.write_text(text)
    comm.Barrier()
    dim = comm.bcast(inspect_mesh_file(path).dim if comm.rank == 0 else None, root=0)
    return build_from_file(path, dim, comm)


def cellwise_sigma(dom, values):
    Q = dolfinx.fem.functionspace(dom.mesh, ("DG", 0))
    s = dolfinx.fem.Function(Q)
    for name, val in values.items():
        cells = dom.cell_tags.find(dom.cells[name])
        s.x.array[Q.dofmap.list[cells, 0]] = val
    s.x.scatter_forward()
    return s


@pytest.mark.mpi
def test_series_resistors_exact(comm_tmp):
    dom = device(comm_tmp, BAR, "bar")
    s1, s2 = 6e7, 1.5e7  # S/m, lengths 4 and 6 nm
    res = solve_potential(dom, cellwise_sigma(dom, {"a": s1, "b": s2}), {"left": 1.0, "right": 0.0})
    j = 1.0 / (4e-9 / s1 + 6e-9 / s2)  # A/m^2
    X = res.V.function_space.tabulate_dof_coordinates()[:, 0]
    exact = np.where(X <= 4, 1 - j * X * 1e-9 / s1, j * (10 - X) * 1e-9 / s2)
    assert np.max(np.abs(res.V.x.array - exact)) < 1e-12
    assert np.allclose(res.j.x.array.reshape(-1, 3)[:, 0], j, rtol=1e-10)
    assert res.currents["left"] == pytest.approx(j, rel=1e-10)  # 1D: A per m^2
    assert res.currents["right"] == pytest.approx(-j, rel=1e-10)


@pytest.mark.mpi
def test_constriction_conserves_current_and_floats(comm_tmp):
    """2D film with a narrow neck: the current through every cross-section x = const (the
    consistent flux a(V, phi) with phi = 1 left of the cut) equals the contact's to 1e-10;
    a floating contact carrying a fixed current gets the potential that drives it."""
    dom = device(comm_tmp, CONSTRICTION, "neck")
    sigma = dolfinx.fem.Constant(dom.mesh, dolfinx.default_scalar_type(5e7))
    res = solve_potential(dom, sigma, {"right": 0.0}, currents={"left": 2.0})
    assert res.currents["left"] == pytest.approx(2.0, rel=1e-10)
    assert res.currents["right"] == pytest.approx(-2.0, rel=1e-10)
    V = res.V
    W = V.function_space
    X = W.tabulate_dof_coordinates()[:, 0]
    comm = dom.comm
    for cut in (3.3, 9.9, 12.0, 14.1, 20.5):
        phi = dolfinx.fem.Function(W)
        phi.x.array[:] = (X < cut).astype(float)
        flux = comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(
            5e7 * ufl.inner(ufl.grad(V), ufl.grad(phi)) * ufl.dx)), op=MPI.SUM)
        assert flux == pytest.approx(2.0, rel=1e-10), cut
    # the same with the floating potential applied as a fixed one gives the same current
    again = solve_potential(dom, sigma, {"right": 0.0, "left": res.potentials["left"]})
    assert again.currents["left"] == pytest.approx(2.0, rel=1e-10)
    # the neck (2 nm of the 6 nm width) crowds the current: |j| there exceeds the film's
    jx = comm.allgather(res.j.x.array.reshape(-1, 3)[:, 0])
    assert np.max(np.abs(np.concatenate(jx))) > 2.5 * 2.0 / 6e-9  # A/m^2: 2 A/m over 6 nm
