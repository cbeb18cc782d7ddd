"""The pictures of a result folder: profile.png with the transverse components on their own
axis and the regions marked, cut.png of a 3D device, m_x.png of a long thin slab."""

import struct
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI
from test_cli import run, write_case

from fem_spin.io import maps, plotting

MESHES = Path(__file__).resolve().parents[1] / "meshes"
RANK = MPI.COMM_WORLD.rank

VALVE = """
[geometry]
kind = "gmsh"
file = "{geo}"
parameters = {{h = 4.0, h_interface = 3.0}}
[material]
D_m2_per_s = 1e-3
tau_sf_s = 1e-11
a0 = 10.0
omega0_per_s = 1e12
[regions.fixed]
profile = "uniform"
direction = [1.0, 0.0, 0.0]
[regions.spacer]
magnet = false
D_m2_per_s = 2e-2
tau_sf_s = 6.125e-12
[regions.free]
profile = "uniform"
direction = [0.995, 0.0998, 0.0]
[boundaries.bottom]
type = "fixed"
m = [-1.0, 0.0, 0.0]
[boundaries.top]
type = "fixed"
m = [0.0, 0.0, 0.0]
[discretization]
degree = 1
[output]
png = true
profile_points = 201
line_from_nm = [0.0, 0.0, 0.0]
line_to_nm = [0.0, 0.0, 25.0]
"""


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, checking its signature and IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


def write_profile(path: Path, transverse: float) -> Path:
    s = np.linspace(0.0, 25.0, 101)
    m = np.column_stack([-1 + s / 25, transverse * np.sin(s / 4), transverse * np.cos(s / 5)])
    np.savetxt(path, np.column_stack([s, m]), delimiter=",", comments="",
               header="s_nm,m_x_A_per_m,m_y_A_per_m,m_z_A_per_m")
    return path


@pytest.mark.serial
def test_small_transverse_components_get_their_own_axis(comm_tmp):
    import matplotlib.pyplot as plt

    fig = plotting.profile_figure(write_profile(comm_tmp / "small.csv", 0.005), "t",
                                  regions=[(0, 10, "fixed"), (10, 15, "spacer"), (15, 25, "free")])
    try:
        assert len(fig.axes) == 2
        main, side = fig.axes
        assert [ln.get_label() for ln in main.get_lines() if not ln.get_label().startswith("_")] \
            == ["m$_{x}$"]
        assert [ln.get_label() for ln in side.get_lines() if not ln.get_label().startswith("_")] \
            == ["m$_{y}$", "m$_{z}$"]
        lo, hi = side.get_ylim()
        assert hi - lo < 0.05  # the lower axis is scaled to the transverse components
        assert main.get_ylabel() == "m$_{x}$ [A/m]"
        assert [t.get_text() for t in main.texts] == ["fixed", "spacer", "free"]
    finally:
        plt.close(fig)
    fig = plotting.profile_figure(write_profile(comm_tmp / "big.csv", 0.5))
    try:
        assert len(fig.axes) == 1  # comparable components share one axis
    finally:
        plt.close(fig)


def test_labels_in_proper_notation():
    assert plotting.split_unit("m_A_per_m") == ("m", "A/m")
    assert plotting.split_unit("j_e_A_per_m2") == ("j_e", "A/m$^2$")
    assert plotting.symbol("j_e", "z") == "j$_{e,z}$"
    assert plotting.axis_label(plotting.symbol("m", "x"), "A/m") == "m$_{x}$ [A/m]"
    assert plotting._abscissa("s_nm") == "s [nm]"


@pytest.mark.mpi
def test_spin_valve_pictures(comm_tmp):
    pytest.importorskip("pyvista")
    case = write_case(comm_tmp, VALVE.format(geo=MESHES / "spin_valve.geo"), name="valve.toml")
    out = comm_tmp / "valve"
    assert run("run", case, "-o", out, "-q") == 0
    if RANK == 0:
        w, h = png_size(out / "cut.png")
        assert w >= 1200 and 300 <= h < w  # three panels side by side
        w, h = png_size(out / "profile.png")
        assert w >= 800 and h >= 500
        # the line crosses fixed / spacer / free at z = 10 and 15 nm
        regions = maps.line_regions(out / "fields.pvd", [0, 0, 0], [0, 0, 25],
                                        names={1: "fixed", 2: "spacer", 3: "free"})
        assert [r[2] for r in regions] == ["fixed", "spacer", "free"]
        assert np.allclose([r[1] for r in regions[:2]], [10.0, 15.0], atol=1e-6)
        # the free layer tilted by 0.1 rad: transverse m well below 20 % of the peak -> 2 axes
        import matplotlib.pyplot as plt

        fig = plotting.profile_figure(out / "profile.csv")
        assert len(fig.axes) == 2
        plt.close(fig)


@pytest.mark.serial
def test_thin_slab_map_fills_the_figure(comm_tmp):
    pytest.importorskip("pyvista")
    text = (Path(__file__).with_name("test_cli.py").read_text().split('SMALL = """')[1]
            .split('"""')[0].format(dim=3, png="true").replace("length_nm = 20.0", "length_nm = 25.0"))
    case = write_case(comm_tmp, text, name="slab.toml")
    assert run("run", case, "-o", comm_tmp / "slab", "-q") == 0
    w, h = png_size(comm_tmp / "slab" / "m_x.png")
    assert w >= 1000 and w / h < 4.5  # a 25:1 slab, drawn at most 4:1 (not a thin stick)
