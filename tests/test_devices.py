"""Devices (issue 10): regions with their own materials (C6), the slab as a general device, the
applied field B, component-wise constants, and the bad inputs of a device case."""

import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.io.case import resolve_case
from fem_spin.physics.coefficients import GAMMA, Region
from fem_spin.physics.magnetization import Uniform
from fem_spin.physics.material import Material
from fem_spin.geometry.mesh import build_from_file, inspect_mesh_file
from fem_spin.physics.problem import SpinProblem
from helpers import nodal_values
from test_cli import profile, run, write_case

RANK = MPI.COMM_WORLD.rank
MESHES = Path(__file__).resolve().parents[1] / "meshes"

# C6: ferromagnet on [0, a], normal metal on [a, L] (nm); u = z in the ferromagnet.
A_NM, L_NM = 10.0, 30.0
FERRO = Material(D=1e-3, tau_sf=4e-13, a0=10.0, omega0=2.5e13)  # l = 20 nm, beta = 10
METAL = Material(D=5e-3, tau_sf=5e-13, a0=0.0, omega0=0.0)     # l = 50 nm
M_LEFT, M_RIGHT = np.array([0.3, -0.2, 1.0]), np.array([0.1, 0.5, -0.4])

TWO_REGIONS_1D = """
Point(1) = {{0, 0, 0, {h}}}; Point(2) = {{{a}, 0, 0, {h}}}; Point(3) = {{{L}, 0, 0, {h}}};
Line(1) = {{1, 2}}; Line(2) = {{2, 3}};
Physical Curve("ferro", 1) = {{1}}; Physical Curve("metal", 2) = {{2}};
Physical Point("left", 1) = {{1}}; Physical Point("right", 2) = {{3}};
"""
TWO_REGIONS_3D = """
SetFactory("OpenCASCADE");
Box(1) = {{0, 0, 0, {a}, 1, 1}}; Box(2) = {{{a}, 0, 0, {b}, 1, 1}};
BooleanFragments{{ Volume{{1}}; Delete; }}{{ Volume{{2}}; Delete; }}
Physical Volume("ferro", 1) = Volume In BoundingBox{{-1e-6, -1, -1, {a} + 1e-6, 2, 2}};
Physical Volume("metal", 2) = Volume In BoundingBox{{{a} - 1e-6, -1, -1, {L} + 1e-6, 2, 2}};
Physical Surface("left", 1) = Surface In BoundingBox{{-1e-6, -1, -1, 1e-6, 2, 2}};
Physical Surface("right", 2) = Surface In BoundingBox{{{L} - 1e-6, -1, -1, {L} + 1e-6, 2, 2}};
Mesh.MeshSizeMax = {h};
"""


def c6_closed_form(x_nm: np.ndarray, mat1: Material = FERRO, mat2: Material = METAL) -> np.ndarray:
    """MODEL.md C6: exponential amplitudes in each region from a 4 x 4 system per component
    (m_z with D1 and D2; psi = m_x + i m_y with D1/(1 - i a0) and D2: the ferromagnetic sd sign)."""
    def k2(mat, transverse):  # 1/nm^2
        rate = (1 - 1j * mat.a0) * (1 / mat.tau_sf - 1j * mat.omega0) if transverse else 1 / mat.tau_sf
        return rate / mat.D * 1e-18

    def solve(v0, vL, transverse):
        k1, k2_ = np.sqrt(k2(mat1, transverse)), np.sqrt(k2(mat2, transverse))
        d1 = mat1.D / (1 - 1j * mat1.a0) if transverse else mat1.D
        d2 = mat2.D
        a, L = A_NM, L_NM
        e = np.exp
        M = np.array([[1, 1, 0, 0],
                      [e(k1 * a), e(-k1 * a), -e(k2_ * a), -e(-k2_ * a)],
                      [d1 * k1 * e(k1 * a), -d1 * k1 * e(-k1 * a), -d2 * k2_ * e(k2_ * a), d2 * k2_ * e(-k2_ * a)],
                      [0, 0, e(k2_ * L), e(-k2_ * L)]], dtype=complex)
        c = np.linalg.solve(M, np.array([v0, 0, 0, vL], dtype=complex))
        return np.where(x_nm <= a, c[0] * e(k1 * x_nm) + c[1] * e(-k1 * x_nm),
                        c[2] * e(k2_ * x_nm) + c[3] * e(-k2_ * x_nm))

    psi = solve(M_LEFT[0] + 1j * M_LEFT[1], M_RIGHT[0] + 1j * M_RIGHT[1], True)
    mz = solve(M_LEFT[2], M_RIGHT[2], False).real
    return np.column_stack([psi.real, psi.imag, mz])


def two_region_problem(folder: Path, template: str, h: float, comm=MPI.COMM_WORLD, degree=2):
    geo = folder / f"two_regions_{abs(hash((template, h)))}.geo"
    if comm.rank == 0:
        geo.write_text(template.format(a=A_NM, b=L_NM - A_NM, L=L_NM, h=h))
    comm.Barrier()
    dim = comm.bcast(inspect_mesh_file(geo).dim if comm.rank == 0 else None, root=0)
    dom = build_from_file(geo, dim, comm)
    p = SpinProblem(domain=dom, regions={"ferro": Region(material=FERRO, magnetization=Uniform()),
                                         "metal": Region(material=METAL)},
                    dirichlet={"left": M_LEFT, "right": M_RIGHT}, degree=degree)
    p.solve()
    return p


@pytest.mark.mpi
def test_c6_two_regions_1d_converges_to_closed_form(comm_tmp):
    errors = []
    for h in (0.4, 0.2, 0.1):
        p = two_region_problem(comm_tmp, TWO_REGIONS_1D, h)
        x, m = nodal_values(p)
        exact = c6_closed_form(x)
        local = np.max(np.abs(m - exact)) if len(x) else 0.0
        errors.append(MPI.COMM_WORLD.allreduce(local, op=MPI.MAX))
    peak = np.max(np.abs(c6_closed_form(np.linspace(0, L_NM, 3001))))
    rel = np.array(errors) / peak
    assert rel[-1] < 1e-3, rel
    assert rel[0] / rel[1] > 4 and rel[1] / rel[2] > 4, rel  # P2: ~h^3 at the nodes


@pytest.mark.serial
def test_c6_thin_bar_in_3d_agrees_with_1d(comm_tmp):
    p = two_region_problem(comm_tmp, TWO_REGIONS_3D, 0.5)
    from fem_spin.io.output import sample

    x = np.linspace(0, L_NM, 301)
    pts = np.column_stack([x, np.full_like(x, 0.5), np.full_like(x, 0.5)])
    m = sample(p.m, pts)
    exact = c6_closed_form(x)
    peak = np.max(np.abs(exact))
    assert np.max(np.abs(m - exact)) / peak < 3e-3


SLAB_DEVICE = """
[geometry]
kind = "gmsh"
file = "{geo}"
parameters = {{dim = 1, L = 20.0, h_interface = 0.3, h_far = 0.6}}
[magnetization]
profile = "interface"
theta_deg = 90.0
width_nm = 0.6
[regions.layer_left]
[regions.layer_right]
[boundaries.left_end]
type = "fixed"
m = [0, 0, -1]
[boundaries.right_end]
type = "fixed"
m = [0, 1, 0]
[discretization]
degree = 1
[output]
profile_points = 101
png = false
"""


@pytest.mark.mpi
def test_slab_as_a_general_device_equals_kind_slab(comm_tmp):
    """meshes/slab.geo with two ferromagnetic regions reproduces geometry.kind = "slab"."""
    dev = write_case(comm_tmp, SLAB_DEVICE.format(geo=MESHES / "slab.geo"), name="dev.toml")
    slab = write_case(comm_tmp)  # the same slab: L = 20 nm, h 0.3/0.6 nm, P1, theta = 90 deg
    assert run("run", dev, "-o", comm_tmp / "dev", "-q") == 0
    assert run("run", slab, "-o", comm_tmp / "slab", "-q") == 0
    if RANK == 0:
        a, b = profile(comm_tmp / "dev"), profile(comm_tmp / "slab")
        assert np.max(np.abs(a[:, 1:] - b[:, 1:])) < 1e-8
        assert np.max(np.abs(a[:, 1])) > 0.2  # transverse accumulation: not a trivial zero
        s = json.loads((comm_tmp / "dev" / "summary.json").read_text())
        assert set(s["regions"]) == {"layer_left", "layer_right"}
        assert s["regions"]["layer_left"]["volume_nm"] == pytest.approx(10.0, rel=1e-12)
        assert 'Name="region"' in (comm_tmp / "dev" / "fields" / "000000.pvtu").read_text()


def uniform_problem(B, magnet: bool, material: Material, length=1.0, h=0.5, degree=1, comm=None):
    from helpers import uniform_1d_slab

    dom = uniform_1d_slab(length, h, comm)
    return SpinProblem(domain=dom, regions=[(None, Region(material=material, B=B,
                                                          magnetization=Uniform() if magnet else None))],
                       degree=degree)


def test_field_alone_is_c3_with_omega_minus_gamma_b():
    """No magnet (mu = 0), B = 1 T along z: m decays at 1/tau_sf and turns about z like a
    moment, dpsi/dt = -psi/tau + i gamma B psi (psi = m_x + i m_y)."""
    from fem_spin.physics.transient import run_transient as transient

    mat = Material(D=1e-3, tau_sf=1e-11, a0=5.0, omega0=5e11)
    p = uniform_problem((0.0, 0.0, 1.0), False, mat)
    t_end, n = 2e-11, 400
    transient(p, t_end, t_end / n, m0=lambda x: np.vstack([np.ones(x.shape[1]), 0 * x[0], 0 * x[0]]),
              theta=0.5)
    m = p.m.x.array.reshape(-1, 3)
    psi = np.exp(-t_end / mat.tau_sf + 1j * GAMMA * 1.0 * t_end)
    assert np.allclose(m[:, 0], psi.real, atol=1e-5) and np.allclose(m[:, 1], psi.imag, atol=1e-5)
    assert np.allclose(m[:, 2], 0.0, atol=1e-12)
    assert abs(psi.imag) > 0.05  # the rotation is visible: a wrong sign of B would fail


def test_field_along_the_magnetization_adds_to_precession_and_tensor():
    """C2 with omega = -(omega0 + gamma B) and alpha = -(a0/omega0)(omega0 + gamma B) along z: a
    field along u adds to the exchange's precession (both turn the electrons the same way)."""
    from fem_spin.geometry.mesh import SlabGeometry, build_slab

    mat = Material(D=1e-3, tau_sf=1e-11, a0=10.0, omega0=1e12)
    B = 2.0
    L, h = 40.0, 0.1
    dom = build_slab(SlabGeometry(dim=1, length=L, h_interface=h, h_far=h))
    psi0, psiL = 1.0 + 0.5j, -0.3 + 0.2j
    p = SpinProblem(domain=dom, regions=[(None, Region(material=mat, magnetization=Uniform(), B=(0, 0, B)))],
                    dirichlet={"left_end": np.array([psi0.real, psi0.imag, 0.0]),
                               "right_end": np.array([psiL.real, psiL.imag, 0.0])}, degree=2)
    p.solve()
    x, m = nodal_values(p)
    w = mat.omega0 + GAMMA * B
    a = mat.a0 / mat.omega0 * w
    k = np.sqrt((1 - 1j * a) * (1 / mat.tau_sf - 1j * w) / mat.D * 1e-18)
    s = x + L / 2
    psi = (psi0 * np.sinh(k * (L - s)) + psiL * np.sinh(k * s)) / np.sinh(k * L)
    assert np.max(np.abs(m[:, 0] + 1j * m[:, 1] - psi)) < 1e-3 * np.max(np.abs(psi))
    # without the field's part of the tensor the answer differs far beyond that
    k_wrong = np.sqrt((1 - 1j * mat.a0) * (1 / mat.tau_sf - 1j * w) / mat.D * 1e-18)
    wrong = (psi0 * np.sinh(k_wrong * (L - s)) + psiL * np.sinh(k_wrong * s)) / np.sinh(k_wrong * L)
    assert np.max(np.abs(wrong - psi)) > 0.05 * np.max(np.abs(psi))


def test_component_wise_constants_reduce_and_act():
    """Isotropic D_k = D, tau_k = tau_sf reproduce the default; D_z alone changes only m_z's
    length (collinear check C1 with D_z)."""
    from fem_spin.geometry.mesh import SlabGeometry, build_slab

    mat = Material(D=1e-3, tau_sf=1e-11, a0=2.0, omega0=2e11)
    L = 200.0
    dom = build_slab(SlabGeometry(dim=1, length=L, h_interface=0.5, h_far=0.5))
    ends = {"left_end": np.array([0.2, 0.1, -1.0]), "right_end": np.array([0.0, 0.3, 1.0])}

    def solve(**kw):
        p = SpinProblem(domain=dom, regions=[(None, Region(material=mat, magnetization=Uniform(), **kw))],
                        dirichlet=ends, degree=2)
        p.solve()
        return nodal_values(p)

    x, m0 = solve()
    _, m1 = solve(D_components=(1e-3, 1e-3, 1e-3), tau_components=(1e-11, 1e-11, 1e-11))
    assert np.max(np.abs(m1 - m0)) < 1e-12
    _, m2 = solve(D_components=(1e-3, 1e-3, 4e-3))
    l_z = np.sqrt(4e-3 * 1e-11) * 1e9  # 200 nm
    s = x + L / 2
    mz = (-np.sinh((L - s) / l_z) + np.sinh(s / l_z)) / np.sinh(L / l_z)
    assert np.max(np.abs(m2[:, 2] - mz)) < 1e-4
    assert np.max(np.abs(m0[:, 2] - mz)) > 0.02  # D_z was not ignored
    assert np.max(np.abs(m2[:, :2] - m0[:, :2])) < 1e-12  # u = z: m_z decouples


GOOD_DEVICE = """
[geometry]
kind = "gmsh"
file = "{geo}"
parameters = {{dim = 1, L = 20.0, h_interface = 0.3, h_far = 0.6}}
[regions.layer_left]
[regions.layer_right]
"""

DEVICE_BAD = [
    ({"file = ": 'file = "nowhere.geo"\n#'}, ["file = ", "nowhere.geo", "does not exist"]),
    ({"[regions.layer_right]": "[regions.layer_right]\n[regions.middle]"},
     ["[regions.middle] is not a region", "layer_left, layer_right"]),
    ({"[regions.layer_right]": ""}, ["layer_right of the mesh are not described"]),
    ({"[regions.layer_right]": "[regions.layer_right]\n[boundaries.top]\ntype = \"free\""},
     ["[boundaries.top] is not a boundary", "interface, left_end, right_end"]),
    ({"[regions.layer_right]": "[regions.layer_right]\n[regions.left_end]"},
     ["[regions.left_end] is a dimension-0 group", "dimension-1"]),
    ({"[geometry]": "[geometry]\ndim = 3"}, ["the file is 1D but geometry.dim = 3"]),
    ({"[regions.layer_left]": "[regions.layer_left]\nmagnet = false\ntheta_deg = 30.0"},
     ["theta_deg", "magnet = false"]),
    ({"[regions.layer_left]": "[regions.layer_left]\nprofile = \"ovf\""}, ["profile = 'ovf'", "needs file"]),
    ({"[regions.layer_left]": "[regions.layer_left]\nprofile = \"ovf\"\nfile = \"m.ovf\""},
     ["file", "m.ovf", "does not exist"]),
    ({"[regions.layer_right]": "[regions.layer_right]\n[boundaries.left_end]\ntype = \"fixed\""},
     ["type = 'fixed' needs m"]),
    ({"[geometry]": "[geometry]\nlength_nm = 50.0"}, ["length_nm = 50.0", "does not apply to kind = 'gmsh'"]),
]


@pytest.mark.parametrize("changes,words", DEVICE_BAD)
def test_bad_device_input_exits_2(comm_tmp, capfd, changes, words):
    text = GOOD_DEVICE.format(geo=MESHES / "slab.geo")
    for a, b in changes.items():
        text = text.replace(a, b, 1)
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("fem-spin: error")]
    assert len(lines) == (1 if RANK == 0 else 0) and "Traceback" not in err, err
    for w in words if RANK == 0 else []:
        assert w in lines[0], (w, lines[0])
    assert not (comm_tmp / "out").exists()


@pytest.mark.parametrize("geo,words", [
    ("Point(1) = {0, 0, 0, 1};\nLine(1) = {1, 2};\n", ["cannot be read by Gmsh", "Unknown control point 2"]),
    ("Point(1) = {0, 0, 0, 1};\nPoint(2) = {1, 0, 0, 1};\nLine(1) = {1, 2};\n", ["no physical groups"]),
])
def test_gmsh_rejects_or_unnamed(comm_tmp, capfd, geo, words):
    if RANK == 0:
        (comm_tmp / "bad.geo").write_text(geo)
    text = '[geometry]\nkind = "gmsh"\nfile = "bad.geo"\n[regions.wire]\n'
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
    err = capfd.readouterr().err
    for w in words if RANK == 0 else []:
        assert w in err, (w, err)
    assert not (comm_tmp / "out").exists()


def test_device_case_round_trips_through_case_toml(comm_tmp):
    text = GOOD_DEVICE.format(geo=MESHES / "slab.geo") + '[field]\nB_T = [0, 0, 0.5]\n'
    text += '[boundaries.left_end]\ntype = "fixed"\nm = [0, 0, -1]\n'
    text += '[boundaries.right_end]\ntype = "current"\nJ_m_per_s = [0, 0, 100.0]\n'
    text += '[discretization]\ndegree = 1\n[output]\nprofile_points = 51\npng = false\n'
    case = write_case(comm_tmp, text)
    assert run("run", case, "-o", comm_tmp / "a", "-q") == 0
    assert run("run", comm_tmp / "a" / "case.toml", "-o", comm_tmp / "b", "-q") == 0
    if RANK == 0:
        saved = (comm_tmp / "a" / "case.toml").read_text()
        assert "dim = 1" in saved and "B_T = [0.0, 0.0, 0.5]" in saved
        assert np.array_equal(profile(comm_tmp / "a"), profile(comm_tmp / "b"))


def test_neumann_spin_current_sets_the_flux():
    """A normal metal bar with J.n = j at the right end and m = 0 at the left: m_z(x) =
    -j l/D sinh(s/l)/cosh(L/l) (outward current j > 0 drains spin: m < 0 near the end)."""
    from helpers import uniform_1d_slab

    mat = Material(D=1e-3, tau_sf=1e-11, a0=0.0, omega0=0.0)
    L, j = 150.0, 50.0  # nm, m/s
    dom = uniform_1d_slab(L, 0.5)
    p = SpinProblem(domain=dom, regions=[(None, Region(material=mat))],
                    dirichlet={"left_end": np.zeros(3)}, neumann={"right_end": np.array([0, 0, j])}, degree=2)
    p.solve()
    x, m = nodal_values(p)
    l = mat.l_sf_nm * 1e-9
    s = (x + L / 2) * 1e-9
    exact = -j * l / mat.D * np.sinh(s / l) / np.cosh(L * 1e-9 / l)
    assert np.max(np.abs(m[:, 2] - exact)) < 1e-4 * np.max(np.abs(exact))
    assert np.max(np.abs(exact)) > 4e-3 and np.allclose(m[:, :2], 0.0, atol=1e-14)


def test_resolved_regions_inherit_and_presets():
    case = resolve_case({"geometry": {"kind": "gmsh", "file": str(MESHES / "slab.geo")},
                         "material": {"a0": 3.0},
                         "magnetization": {"profile": "uniform", "direction": [1, 0, 0]},
                         "field": {"B_T": [0, 0, 1]},
                         "regions": {"layer_left": {}, "layer_right": {"preset": "paper", "B_T": [0, 1, 0]}}})
    left, right = case["regions"]["layer_left"], case["regions"]["layer_right"]
    assert left["a0"] == 3.0 and left["direction"] == [1.0, 0.0, 0.0] and left["B_T"] == [0.0, 0.0, 1.0]
    assert right["a0"] == 100.0 and right["omega0_per_s"] == 1e13 and right["B_T"] == [0.0, 1.0, 0.0]
    assert case["geometry"]["dim"] is None  # from the file


def test_case_field_reaches_the_solver(comm_tmp):
    """[field] B_T in a case file changes the answer (the field tests above use the Python API)."""
    base = SLAB_DEVICE.format(geo=MESHES / "slab.geo")
    assert run("run", write_case(comm_tmp, base, name="a.toml"), "-o", comm_tmp / "a", "-q") == 0
    text = base + "[field]\nB_T = [0.0, 0.0, 20.0]\n"
    assert run("run", write_case(comm_tmp, text, name="b.toml"), "-o", comm_tmp / "b", "-q") == 0
    if RANK == 0:
        a, b = profile(comm_tmp / "a"), profile(comm_tmp / "b")
        assert np.max(np.abs(a[:, 1:] - b[:, 1:])) > 1e-3
