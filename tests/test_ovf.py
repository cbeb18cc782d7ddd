"""OVF files from mumax3 and OOMMF (../shared/data/ovf), our writer, and their interpolation
onto meshes: values at cell centres, round trips, zero vectors, bad files."""

from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin._backend import dolfinx
from fem_spin.io.ovf import GridMagnetization, OVFError, OVFField, read_ovf, write_ovf

DATA = Path(__file__).resolve().parent / "data" / "ovf"  # copies of ../shared/data/ovf
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="tests/data/ovf not present")


@needs_data
def test_every_sample_file_reads():
    mumax = read_ovf(DATA / "mumax-txt-linux.ovf")
    assert mumax.shape == (24, 12, 4) and mumax.step == pytest.approx((2.5e-9,) * 3)
    assert mumax.base == pytest.approx((1.25e-9,) * 3) and mumax.meshunit == "m"
    assert np.allclose(mumax.values[0, 0, 0], [0.9950372, 0.09950372, 0.0])
    assert np.allclose(np.linalg.norm(mumax.values, axis=-1), 1.0, atol=1e-7)
    b4, b8 = read_ovf(DATA / "oommf-ovf2-bin4.omf"), read_ovf(DATA / "oommf-ovf2-bin8.omf")
    assert b4.shape == b8.shape == (5, 5, 5) and b8.step == pytest.approx((1e-9,) * 3)
    assert np.allclose(b8.values[0, 0, 0], [7826205.19122475, 1172713.1580553, 1172713.15920422])
    assert np.allclose(b4.values, b8.values, rtol=1e-6, atol=1.0)  # float32 vs float64 of one state
    assert np.allclose(np.linalg.norm(b8.values, axis=-1), 8e6, rtol=1e-9)
    sky = read_ovf(DATA / "skyrmion-disk.omf")
    assert sky.shape == (20, 20, 2) and sky.base == pytest.approx((-47.5e-9, -47.5e-9, 2.5e-9))
    norms = np.linalg.norm(sky.values, axis=-1)
    assert norms.max() == pytest.approx(1.1e6) and np.count_nonzero(norms == 0) > 0


def box_at_centres(f: OVFField, comm=MPI.COMM_WORLD):
    """A hexahedral box mesh [nm] whose vertices are the grid's cell centres."""
    nx, ny, nz = f.shape
    lo = np.asarray(f.base) * f.unit_nm
    hi = lo + (np.array([nx, ny, nz]) - 1) * np.asarray(f.step) * f.unit_nm
    return dolfinx.mesh.create_box(comm, [lo, hi], [nx - 1, ny - 1, nz - 1],
                                   dolfinx.mesh.CellType.hexahedron)


@needs_data
@pytest.mark.mpi
@pytest.mark.parametrize("name", ["mumax-txt-linux.ovf", "oommf-ovf2-bin8.omf"])
def test_values_at_cell_centres_are_reproduced(name):
    f = read_ovf(DATA / name)
    source = GridMagnetization(f)
    V = dolfinx.fem.functionspace(box_at_centres(f), ("Lagrange", 1, (3,)))
    u = dolfinx.fem.Function(V)
    u.interpolate(source)
    x = V.tabulate_dof_coordinates() / f.unit_nm
    idx = np.rint((x - np.asarray(f.base)) / np.asarray(f.step)).astype(int)
    expected = f.values[idx[:, 2], idx[:, 1], idx[:, 0]] / source.norm
    assert np.max(np.abs(u.x.array.reshape(-1, 3) - expected)) < 1e-12


@pytest.mark.parametrize("data,version", [("text", 2), ("bin8", 2), ("bin8", 1), ("text", 1)])
def test_round_trip_of_a_known_field(tmp_path, data, version):
    """A trilinear field written to OVF and read back onto a mesh inside the grid is exact."""
    n, step = (6, 5, 4), (2e-9, 3e-9, 1.5e-9)
    base = (1e-9, -5e-9, 0.75e-9)
    g = OVFField(np.zeros((n[2], n[1], n[0], 3)), base, step)
    c = g.centres() * 1e9  # nm

    def exact(p):  # (N, 3) nm -> (N, 3): trilinear in x, y, z
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        return np.column_stack([1 + 0.1 * x + 0.01 * x * y, -0.2 * y + 0.02 * y * z, 0.5 + 0.03 * x * y * z])

    g.values = exact(c.reshape(-1, 3)).reshape(c.shape)
    path = write_ovf(tmp_path / "f.ovf", g, data=data, version=version)
    back = read_ovf(path)
    assert np.array_equal(back.values, g.values) and back.base == base and back.step == step
    source = GridMagnetization(back, norm=1.0)
    lo, hi = c.reshape(-1, 3).min(axis=0), c.reshape(-1, 3).max(axis=0)
    mesh = dolfinx.mesh.create_box(MPI.COMM_SELF, [lo + 0.1, hi - 0.2], [3, 4, 2])
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 2, (3,)))
    u = dolfinx.fem.Function(V)
    u.interpolate(source)
    x = V.tabulate_dof_coordinates()
    assert np.max(np.abs(u.x.array.reshape(-1, 3) - exact(x))) < 1e-12


@needs_data
def test_zero_vectors_give_no_magnet_not_nan():
    sky = read_ovf(DATA / "skyrmion-disk.omf")
    source = GridMagnetization(sky)
    x = np.linspace(-49.0, 49.0, 200)
    pts = np.vstack([x, x * 0.3, np.full_like(x, 5.0)])  # a chord through the skyrmion
    corner = np.array([[-49.0], [-49.0], [5.0]])  # outside the disk: zero vectors
    vals = source(np.hstack([pts, corner]))
    assert np.all(np.isfinite(vals))
    assert np.allclose(vals[:, -1], 0.0)  # mu = 0 where the file has no magnet
    norms = np.linalg.norm(vals, axis=0)  # |M/M0| <= 1: 1 in full cells, less between them
    assert 0.99 < np.max(norms) <= 1 + 1e-12 and np.min(norms[:-1]) < 0.6  # the rim falls off


@needs_data
def test_points_outside_the_grid():
    f = read_ovf(DATA / "oommf-ovf2-bin8.omf")  # [0, 5] nm cube
    inside, outside = np.array([[2.5], [2.5], [2.5]]), np.array([[7.0], [2.5], [2.5]])
    with pytest.raises(OVFError, match=r"1 mesh points lie outside the grid \[0, 5\] x .* offset_nm"):
        GridMagnetization(f)(np.hstack([inside, outside]))
    assert np.allclose(GridMagnetization(f, outside="zero")(outside), 0.0)
    near = GridMagnetization(f, outside="nearest")(outside)[:, 0]
    assert np.allclose(near, f.values[2, 2, 4] / np.max(np.linalg.norm(f.values, axis=-1)))
    moved = GridMagnetization(f, offset_nm=(5.0, 0.0, 0.0))(outside)  # grid now spans x in [5, 10]
    assert np.all(np.isfinite(moved)) and np.linalg.norm(moved) > 0.9


@needs_data
@pytest.mark.parametrize("cut,words", [
    (lambda b: b[: len(b) // 2], "truncated"),
    (lambda b: b.replace(b"# xnodes: 24", b"# xnodes: 25"), "holds 3456 values, the header's grid needs 3600"),
    (lambda b: b.replace(b"# xstepsize: 2.5e-09\n", b""), "header lacks 'xstepsize'"),
    (lambda b: b.replace(b"0.9950372 0.09950372 0", b"0.9950372 abc 0", 1), "bad number"),
    (lambda b: b"hello\n", "not an OVF file"),
])
def test_malformed_text_files(tmp_path, cut, words):
    bad = tmp_path / "bad.ovf"
    bad.write_bytes(cut((DATA / "mumax-txt-linux.ovf").read_bytes()))
    with pytest.raises(OVFError, match="bad.ovf") as exc:
        read_ovf(bad)
    assert words in str(exc.value)


@needs_data
@pytest.mark.parametrize("cut,words", [
    (lambda b: b[: len(b) - 300], "truncated"),
    (lambda b: b.replace(b"Data Binary 8\n", b"Data Binary 4\n"), "check value"),
])
def test_malformed_binary_files(tmp_path, cut, words):
    bad = tmp_path / "bad.omf"
    bad.write_bytes(cut((DATA / "oommf-ovf2-bin8.omf").read_bytes()))
    with pytest.raises(OVFError, match=words) as exc:
        read_ovf(bad)
    assert "np." not in str(exc.value)  # plain numbers, not numpy reprs


def test_wrong_endian_check_value_prints_plain_numbers(tmp_path):
    """An OVF 1.0 binary file written little-endian (OVF 1.0 is big-endian): the message gives
    the value read and the one expected as plain numbers."""
    values = np.zeros((1, 3), "<f4")
    head = ("# OOMMF: rectangular mesh v1.0\n# Segment count: 1\n# Begin: Segment\n# Begin: Header\n"
            "# meshtype: rectangular\n# meshunit: m\n# xbase: 0\n# ybase: 0\n# zbase: 0\n"
            "# xstepsize: 1e-9\n# ystepsize: 1e-9\n# zstepsize: 1e-9\n# xnodes: 1\n# ynodes: 1\n"
            "# znodes: 1\n# xmin: 0\n# ymin: 0\n# zmin: 0\n# xmax: 1e-9\n# ymax: 1e-9\n# zmax: 1e-9\n"
            "# valuedim: 3\n# valueunit: A/m\n# valuemultiplier: 1\n# End: Header\n# Begin: Data Binary 4\n")
    bad = tmp_path / "little.ovf"
    bad.write_bytes(head.encode() + np.array([1234567.0], "<f4").tobytes() + values.tobytes()
                    + b"\n# End: Data Binary 4\n# End: Segment\n")
    with pytest.raises(OVFError) as exc:
        read_ovf(bad)
    assert "check value 8.611062e-05 is not 1234567 " in str(exc.value), str(exc.value)


@needs_data
@pytest.mark.mpi
def test_ovf_region_outside_grid_is_one_input_error(comm_tmp, capfd):
    """Through the CLI on 1 and 2 ranks: the OVF grid does not cover the region: exit 2, once."""
    from test_cli import run, write_case

    meshes = Path(__file__).resolve().parents[1] / "meshes"
    text = f"""
[geometry]
kind = "gmsh"
file = "{meshes / 'slab.geo'}"
parameters = {{dim = 1, L = 20.0, h_interface = 0.3, h_far = 0.6}}
[regions.layer_left]
profile = "ovf"
file = "{DATA / 'oommf-ovf2-bin8.omf'}"
[regions.layer_right]
"""
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
    err = capfd.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        assert err.count("fem-spin: error") == 1 and "outside the grid" in err, err
    assert not (comm_tmp / "out").exists()


def test_vtk_point_field_source(tmp_path):
    """A .vtu point field (as ParaView or another FE code writes it), probed at mesh points:
    exact for a field linear on each cell; outside points are an error unless told."""
    import pyvista as pv

    from fem_spin.physics.magnetization import VTKMagnetization

    grid = pv.ImageData(dimensions=(5, 4, 3), spacing=(1.0, 1.0, 1.0)).cast_to_unstructured_grid()
    grid = grid.triangulate()  # tetrahedra: linear interpolation is exact for a linear field
    p = np.asarray(grid.points)
    grid.point_data["mag"] = np.column_stack([1 + 0.1 * p[:, 0], 0.2 * p[:, 1], -0.1 * p[:, 2]])
    grid.point_data["scalar"] = p[:, 0]
    grid.save(tmp_path / "m.vtu")
    src = VTKMagnetization(str(tmp_path / "m.vtu"), unit_nm=2.0, offset_nm=(1.0, 0.0, 0.0))
    q = np.array([[1.0 + 2 * 1.3, 2 * 0.7, 2 * 1.1], [1.0 + 2 * 3.9, 2 * 2.5, 2 * 0.2]]).T  # nm
    local = (q.T - [1.0, 0.0, 0.0]) / 2.0
    norm = np.max(np.linalg.norm(grid.point_data["mag"], axis=1))
    expected = np.column_stack([1 + 0.1 * local[:, 0], 0.2 * local[:, 1], -0.1 * local[:, 2]]) / norm
    assert np.allclose(src(q).T, expected, atol=1e-6)
    with pytest.raises(OVFError, match="outside its mesh"):
        src(np.array([[100.0], [0.0], [0.0]]))
    assert np.allclose(VTKMagnetization(str(tmp_path / "m.vtu"), outside="zero")(np.array([[100.0], [0.0], [0.0]])), 0)
    with pytest.raises(OVFError, match="no 3-vector array 'nope'"):
        VTKMagnetization(str(tmp_path / "m.vtu"), field="nope")
