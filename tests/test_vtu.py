"""The ParaView files: binary compressed VTK XML that VTK reads back exactly, on 1 and 2 ranks."""

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin._backend import dolfinx, ufl
from fem_spin.io.output import nodal_average
from fem_spin.io.vtu import VTUSeries, component_names, write_vtu

pv = pytest.importorskip("pyvista")
COMM = MPI.COMM_WORLD


def quadratic(x):  # exactly representable in P2, so values at any node are known
    return np.stack([x[0] ** 2 - x[1], x[1] * x[2] + 1.0, 2 * x[0] - x[2] ** 2])


def read_all(path):
    """Every point of the (multi-piece) file, with its fields (rank 0)."""
    return pv.get_reader(str(path)).read().combine()


@pytest.mark.mpi
def test_vtu_round_trip(comm_tmp):
    mesh = dolfinx.mesh.create_unit_cube(COMM, 3, 2, 2)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 2, (3,)))
    S = dolfinx.fem.functionspace(mesh, ("Lagrange", 2))  # other dof numbering than V
    u = dolfinx.fem.Function(V, name="m")
    u.interpolate(quadratic)
    s = dolfinx.fem.Function(S, name="abs_m")
    s.interpolate(lambda x: 3 * x[0] - x[1] * x[2])
    region = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)), name="region")
    region.interpolate(lambda x: np.where(x[0] < 0.45, 1.0, 2.0))  # no centre near 0.45
    write_vtu(comm_tmp, "fields", [u, s], [region])
    if COMM.rank == 0:
        g = read_all(comm_tmp / "fields.pvd")
        x = g.points.T
        assert np.allclose(g["m"], quadratic(x).T, atol=1e-13)
        assert np.allclose(g["abs_m"], 3 * x[0] - x[1] * x[2], atol=1e-13)
        centres = g.points[g.cells_dict[71][:, :4]].mean(axis=1).T  # the 4 vertices come first
        assert np.array_equal(g.cell_data["region"], np.where(centres[0] < 0.45, 1.0, 2.0))
        assert g.n_cells == 3 * 2 * 2 * 6 and set(g.celltypes) == {71}  # Lagrange tetrahedra
        piece = (comm_tmp / "fields" / "000000_p0.vtu").read_bytes()
        assert b'compressor="vtkZLibDataCompressor"' in piece and b'encoding="raw"' in piece
        assert len(list((comm_tmp / "fields").glob("*.vtu"))) == COMM.size


@pytest.mark.mpi
def test_time_series_and_precision(comm_tmp):
    mesh = dolfinx.mesh.create_unit_square(COMM, 4, 4)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))
    u = dolfinx.fem.Function(V, name="u")
    series = VTUSeries(comm_tmp, "u_t", [u], precision="single")
    for t in (0.0, 1e-12, 2e-12):
        u.x.array[:] = t * 1e12
        series.write(t)
    if COMM.rank == 0:
        reader = pv.get_reader(str(comm_tmp / "u_t.pvd"))
        assert np.allclose(reader.time_values, [0.0, 1e-12, 2e-12], rtol=1e-12)
        reader.set_active_time_value(2e-12)
        g = reader.read().combine()
        assert g["u"].dtype == np.float32 and np.all(g["u"] == 2.0)


@pytest.mark.mpi
def test_nodal_average(comm_tmp):
    """Continuous fields come back exactly; at a jump the node gets the mean of the cells."""
    mesh = dolfinx.mesh.create_unit_square(COMM, 4, 4)
    x = ufl.SpatialCoordinate(mesh)
    W = dolfinx.fem.functionspace(mesh, ("Lagrange", 2, (3, 3)))
    grad = ufl.as_matrix([[2 * x[0], x[1], 0.0], [0.0, 1.0, x[0] * x[1]], [1.0, 0.0, -3 * x[1]]])
    J = nodal_average(grad, W, "J")
    X = W.tabulate_dof_coordinates().T
    want = np.stack([2 * X[0], X[1], 0 * X[0], 0 * X[0], 1 + 0 * X[0], X[0] * X[1],
                     1 + 0 * X[0], 0 * X[0], -3 * X[1]], axis=1)
    assert np.allclose(J.x.array.reshape(-1, 9), want, atol=1e-13)
    S = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    step = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)))
    step.interpolate(lambda x: np.where(x[0] < 0.5, 1.0, 3.0))  # at cell midpoints: a jump at 0.5
    jump = nodal_average(step, S, "jump")
    X = S.tabulate_dof_coordinates()
    on = np.isclose(X[:, 0], 0.5)
    inner = on & (X[:, 1] > 0.1) & (X[:, 1] < 0.9)
    # an interior node on x = 0.5 touches 3 cells left and 3 right on the 'right'-diagonal mesh
    assert np.allclose(jump.x.array[inner], 2.0) and np.all(jump.x.array[X[:, 0] < 0.49] == 1.0)


def test_component_names():
    assert component_names("J_A_per_s", 9)[:4] == ["Jxx", "Jxy", "Jxz", "Jyx"]
    assert component_names("m", 3) == ["x", "y", "z"] and component_names("abs_m", 1) is None
