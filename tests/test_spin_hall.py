"""Spin Hall sources and spin-orbit torques (issue 20). The spin current of a region with a spin
Hall angle gains S^{kj} = -theta_SH (muB/e) eps_{kjl} j_e^l (spin k, space j, a moment flux in
A/s): across a surface of normal n it carries the moments theta_SH (muB/e) j_e x n. The sign is
BORIS's (docs/conventions.md) and is pinned here to the reference's physical statement, not to
our own formula: in Pt (theta_SH > 0) with j_e along +x the moments piling up on the top surface
(+z) point along -y (the spins along +y), so a Co layer on top of the Pt is turned towards -y
(damping-like torque along -y).

- C12: one heavy-metal slab with free surfaces against the closed form, under refinement;
- a heavy metal / normal metal / reservoir stack against a 1D transfer calculation;
- a solved current (contacts) gives the same profile as the uniform one;
- the signs: reversing j_e or theta_SH reverses m and the torque; Pt/Co in 3D (the lab frame of
  the statement above) against the same transfer calculation, and its summary.json split;
- the LLG turns the Co at the torque's rate (through B_sd, as every other torque);
- bad input: one line, exit 2.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.geometry.mesh import build_from_file
from fem_spin.physics.coefficients import MUB_OVER_E, Region
from fem_spin.physics.integrals import RegionIntegrals
from fem_spin.physics.magnetization import Uniform
from fem_spin.physics.material import Material
from fem_spin.physics.problem import SpinProblem
from helpers import nodal_values, uniform_1d_slab
from test_cli import run, write_case
from test_current import layers_geo

COMM = MPI.COMM_WORLD
RANK = COMM.rank
ROOT = Path(__file__).resolve().parents[1]
J, THETA = 1e11, 0.1
PT = Material(D=1e-3, tau_sf=4e-15, a0=0.0, omega0=0.0)            # l_sf = 2 nm
CU = Material(D=5e-3, tau_sf=8e-14, a0=0.0, omega0=0.0)            # l_sf = 20 nm
CO = Material(D=1e-3, tau_sf=1e-13, a0=0.0, omega0=1e15)           # absorbing: 1/|k| = 1 nm


def c12(x, d, theta=THETA, j=J, mat=PT):
    """The slab [-d/2, d/2] (nm) with free surfaces and the in-plane current j along y (1D mesh
    along x, the thickness): moments theta (muB/e) j x n leave through each face, so m_z(x) =
    -theta (muB/e) j (l_sf/D) sinh(x/l_sf)/cosh(d/(2 l_sf)) [A/m]: -z on the face x = +d/2."""
    l = mat.l_sf_nm
    return -theta * MUB_OVER_E * j * (l * 1e-9 / mat.D) * np.sinh(x / l) / np.cosh(d / (2 * l))


def max_error(local: np.ndarray) -> float:
    return COMM.allreduce(float(np.max(local)) if local.size else 0.0, op=MPI.MAX)


def solve_hall_slab(d, h, theta=THETA, j=J):
    dom = uniform_1d_slab(d, h)
    p = SpinProblem(domain=dom, regions=[(None, Region(material=PT, theta_SH=theta))],
                    current=(0.0, j, 0.0), degree=2)
    p.solve()
    return nodal_values(p)


@pytest.mark.mpi
def test_c12_heavy_metal_slab_with_free_surfaces():
    """d = 10 nm, l_sf = 2 nm, theta_SH = 0.1, j = 1e11 A/m^2 (peak 1.14 A/m): the error falls
    under refinement (P2, h = 2.5, 1.25, 0.625 nm) and is below 1e-3 of the peak on the finest;
    a missing factor 2, a wrong sign or the flux through the faces left out all fail it."""
    d = 10.0
    peak = abs(c12(d / 2, d))
    errors = []
    for h in (2.5, 1.25, 0.625):
        x, m = solve_hall_slab(d, h)
        errors.append(max_error(np.abs(m[:, 2] - c12(x, d))) / peak)
        assert max_error(np.abs(m[:, :2])) < 1e-12 * peak  # only the z component: j_e x n = -z
    assert errors[-1] < 1e-3, errors
    assert errors[0] / errors[1] > 4 and errors[1] / errors[2] > 4, errors
    assert peak == pytest.approx(0.1 * 5.7884e-5 * 1e11 * 2e-9 / 1e-3 * np.tanh(2.5), rel=1e-4)


@pytest.mark.mpi
def test_reversing_the_current_or_the_angle_reverses_the_accumulation():
    _, m = solve_hall_slab(10.0, 0.625)
    _, m_j = solve_hall_slab(10.0, 0.625, j=-J)
    _, m_t = solve_hall_slab(10.0, 0.625, theta=-THETA)
    scale = max_error(np.abs(m))
    assert scale > 1.0
    assert max_error(np.abs(m_j + m)) < 1e-12 * scale
    assert max_error(np.abs(m_t + m)) < 1e-12 * scale


def transfer(bounds, layers, x, right="free"):
    """Independent 1D calculation along x (lengths in nm): in each layer m'' = Q m with
    Q = A (I/tau_sf - omega0 [u]x)/D and A = I - a0 [u]x (a magnet with mu = 1; the signs of the
    ferromagnetic sd exchange, MODEL.md: omega = -omega0 u, alpha = -a0 u) or I, solved as
    modes V exp(+-kappa x) (kappa^2 the eigenvalues of Q); the flux J = -D A^-1 m' + S with S the
    layer's constant source column S[:, x] [A/s]; J = 0 at the left end, J = 0 (free) or m = 0
    (a reservoir) at the right, m and J continuous at each interface. layers: (Material, u or
    None, S). Returns m at x, shape (len(x), 3) [A/m]."""
    n = len(layers)
    parts = []
    for mat, u, _ in layers:
        ux = np.zeros((3, 3)) if u is None else \
            np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
        A = np.eye(3) - (0.0 if u is None else mat.a0) * ux
        K = np.eye(3) / mat.tau_sf - (0.0 if u is None else mat.omega0) * ux
        D = mat.D * 1e18  # nm^2/s
        lam, V = np.linalg.eig(A @ K / D)
        parts.append((np.sqrt(lam.astype(complex)), V.astype(complex), np.linalg.inv(A), mat.D))

    def modes(i, xx):
        """m = B(xx) c and J = F(xx) c + S for the 6 amplitudes c of layer i."""
        kap, V, Ainv, D = parts[i]
        a, b = bounds[i], bounds[i + 1]
        up, down = np.exp(kap * (xx - b)), np.exp(-kap * (xx - a))  # both bounded in the layer
        Bm = np.hstack([V * up, V * down])
        dm = np.hstack([V * (kap * up), V * (-kap * down)]) * 1e9  # 1/m
        return Bm, -D * Ainv @ dm

    M = np.zeros((6 * n, 6 * n), complex)
    rhs = np.zeros(6 * n, complex)
    S = [np.asarray(s, float) for *_, s in layers]
    _, F = modes(0, bounds[0])
    M[0:3, 0:6], rhs[0:3] = F, -S[0]
    Bm, F = modes(n - 1, bounds[-1])
    M[3:6, 6 * n - 6:] = Bm if right == "reservoir" else F
    rhs[3:6] = 0.0 if right == "reservoir" else -S[-1]
    for k in range(n - 1):
        r, xb = 6 + 6 * k, bounds[k + 1]
        B1, F1 = modes(k, xb)
        B2, F2 = modes(k + 1, xb)
        M[r:r + 3, 6 * k:6 * k + 6], M[r:r + 3, 6 * k + 6:6 * k + 12] = B1, -B2
        M[r + 3:r + 6, 6 * k:6 * k + 6], M[r + 3:r + 6, 6 * k + 6:6 * k + 12] = F1, -F2
        rhs[r + 3:r + 6] = S[k + 1] - S[k]
    c = np.linalg.solve(M, rhs)
    which = np.clip(np.searchsorted(bounds, x, side="right") - 1, 0, n - 1)
    out = np.array([(modes(i, xx)[0] @ c[6 * i:6 * i + 6]) for i, xx in zip(which, x)])
    assert np.max(np.abs(out.imag)) < 1e-9 * max(np.max(np.abs(out.real)), 1e-300)
    return out.real


def hall_column(theta, j):
    """The source column S[:, x] of the spin Hall term for a current j (3-vector): the moment
    flux along +x, theta (muB/e) j x x_hat."""
    return theta * MUB_OVER_E * np.cross(j, [1.0, 0.0, 0.0])


def solve_stack(folder, bounds, layers, h, dirichlet=(), j=(0.0, J, 0.0)):
    """layers: (name, Material, u or None, theta_SH); uniform j_e; m = 0 on `dirichlet`."""
    geo = folder / f"stack_{abs(hash((tuple(bounds), h)))}.geo"
    if RANK == 0:
        geo.write_text(layers_geo(bounds, [n for n, *_ in layers], h))
    COMM.Barrier()
    dom = build_from_file(geo, 1, COMM)
    regions = {n: Region(material=mat, magnetization=None if u is None else Uniform(tuple(u)), theta_SH=t)
               for n, mat, u, t in layers}
    p = SpinProblem(domain=dom, regions=regions, current=j, degree=2,
                    dirichlet={name: np.zeros(3) for name in dirichlet})
    p.solve()
    return p


@pytest.mark.mpi
def test_heavy_metal_normal_metal_reservoir_stack_against_the_transfer_calculation(comm_tmp):
    """Pt-like (l_sf = 2 nm, theta_SH = 0.1) on [-6, 0] nm with a free bottom face, Cu-like
    (l_sf = 20 nm) on [0, 10] nm, a reservoir (m = 0) at x = 10 nm, j = 1e11 A/m^2 in-plane:
    m_z against the transfer calculation to 1e-3 of its peak. The free face of the heavy metal
    (outward normal -x) holds moments along j x n = +z, the Cu side the opposite sign."""
    bounds = [-6.0, 0.0, 10.0]
    p = solve_stack(comm_tmp, bounds, [("HM", PT, None, THETA), ("NM", CU, None, 0.0)], 0.1,
                    dirichlet=("right",))
    x, m = nodal_values(p)
    layers = [(PT, None, hall_column(THETA, [0, J, 0])), (CU, None, np.zeros(3))]
    exact = transfer(bounds, layers, x, right="reservoir")
    fine = transfer(bounds, layers, np.linspace(-6, 10, 3201), right="reservoir")
    peak = np.max(np.abs(fine))
    assert max_error(np.abs(m - exact).ravel()) < 1e-3 * peak
    assert fine[0, 2] > 0.9 * peak and fine[-1600, 2] < 0  # +z on the free face, -z at the Cu side
    assert fine[0, 2] == pytest.approx(peak)


SOLVED = """
[geometry]
kind = "gmsh"
file = "{geo}"
[current]
drive = "solved"
[material]
D_m2_per_s = 1e-3
tau_sf_s = 4e-15
theta_SH = {theta}
sigma_S_per_m = 5e6
[regions.HM]
magnet = false
[boundaries.left]
potential_V = {V}
type = "free"
[boundaries.right]
potential_V = 0.0
type = "free"
[discretization]
degree = 2
[output]
png = false
paraview = false
profile_points = 201
line_from_nm = [0.0, -5.0, 0.0]
line_to_nm = [0.0, 5.0, 0.0]
"""


@pytest.mark.mpi
def test_a_solved_current_drives_the_same_profile(comm_tmp):
    """A 2D strip 30 x 10 nm (x the current, y the thickness) between two contacts with
    j = sigma V/L = 1e11 A/m^2 along +x: across the strip m_z(y) is C12 with j x n = +z on the
    top face (n = +y), to 1e-3 of the peak."""
    geo = comm_tmp / "strip.geo"
    if RANK == 0:
        geo.write_text("Point(1) = {-15, -5, 0, 0.5}; Point(2) = {15, -5, 0, 0.5};\n"
                       "Point(3) = {15, 5, 0, 0.5}; Point(4) = {-15, 5, 0, 0.5};\n"
                       "Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};\n"
                       "Curve Loop(1) = {1, 2, 3, 4}; Plane Surface(1) = {1};\n"
                       'Physical Surface("HM", 1) = {1};\nPhysical Curve("left", 1) = {4};\n'
                       'Physical Curve("right", 2) = {2};\n')
    V = J * 30e-9 / 5e6
    out = comm_tmp / "solved"
    assert run("run", write_case(comm_tmp, SOLVED.format(geo=geo, theta=THETA, V=V)), "-o", out, "-q") == 0
    if RANK == 0:
        data = np.loadtxt(out / "profile.csv", delimiter=",", skiprows=1)
        y, mz = data[:, 0] - 5.0, data[:, 3]
        exact = -c12(y, 10.0)  # the thickness along +y: j x n = x x y = +z on top
        assert np.max(np.abs(mz - exact)) < 1e-3 * np.max(np.abs(exact))
        assert mz[-1] > 0
        s = json.loads((out / "summary.json").read_text())
        assert s["contacts"]["left"]["current_A_per_m"] == pytest.approx(J * 10e-9, rel=1e-6)


def co_torque_1d(comm_tmp, j=J, theta=THETA, t_pt=4.0, t_co=3.0):
    """Pt/Co on the thickness axis x (Pt below, Co above, u = +x), in-plane j along +y: the frame
    (x, y, z) here is the strip's (z, x, y). Returns (m at the nodes, x, torque integral over Co
    [A/(m s) nm])."""
    p = solve_stack(comm_tmp, [-t_pt, 0.0, t_co], [("Pt", PT, None, theta), ("Co", CO, (1.0, 0.0, 0.0), 0.0)],
                    0.05, j=(0.0, j, 0.0))
    x, m = nodal_values(p)
    T = p.torque()
    ints = RegionIntegrals(p.domain, ["Co"], quadrature_degree=6)
    return m, x, np.array([ints.integral(T[i], "Co") for i in range(3)])


def co_torque_transfer(theta=THETA, j=J, t_pt=4.0, t_co=3.0):
    """The torque -omega0 u x m on the moments (MODEL.md: -gamma u x B_sd, B_sd parallel to m)
    integrated over Co from the transfer calculation, in the frame of `co_torque_1d`."""
    bounds = [-t_pt, 0.0, t_co]
    layers = [(PT, None, hall_column(theta, [0, j, 0])), (CO, (1.0, 0.0, 0.0), np.zeros(3))]
    xs = np.linspace(0.0, t_co, 6001)
    m = transfer(bounds, layers, xs)
    w = np.full(len(xs), xs[1] - xs[0]) * np.array([1] + [4, 2] * ((len(xs) - 3) // 2) + [4, 1]) / 3
    return -CO.omega0 * np.cross([1.0, 0.0, 0.0], w @ m)


@pytest.mark.mpi
def test_reversing_the_current_or_the_angle_reverses_the_torque(comm_tmp):
    """Pt 4 nm / Co 3 nm (1D): the torque on Co against the transfer calculation to 1e-3, and
    exactly reversed with j_e or theta_SH."""
    _, _, T = co_torque_1d(comm_tmp)
    ref = co_torque_transfer()
    assert np.max(np.abs(T - ref)) < 1e-3 * np.linalg.norm(ref), (T, ref)
    for kw in ({"j": -J}, {"theta": -THETA}):
        _, _, Tr = co_torque_1d(comm_tmp, **kw)
        assert np.max(np.abs(Tr + T)) < 1e-10 * np.linalg.norm(T), (kw, Tr, T)


PT_CO = """
[geometry]
kind = "gmsh"
file = "{geo}"
parameters = {{L = 1, w = 1, t_pt = 4, t_co = 3, h = 0.35}}
[current]
drive = "uniform"
j_A_per_m2 = [{j}, 0, 0]
[material]              # Co: absorbing (a0 = 0, omega0 tau_sf = 100: 1/|k| = 1 nm)
D_m2_per_s = 1e-3
tau_sf_s = 1e-13
a0 = 0.0
omega0_per_s = 1e15
P = 0.5
[regions.Pt]
magnet = false
tau_sf_s = 4e-15
theta_SH = {theta}
[regions.Co]
profile = "uniform"
direction = [0, 0, 1]
[discretization]
degree = 2
[output]
png = false
paraview = false
"""


@pytest.mark.mpi
def test_pt_co_with_the_current_along_x_turns_co_towards_minus_y(comm_tmp):
    """The reference's fact in its own frame: Pt (theta_SH = 0.1) on z < 0, Co (u = +z) on top,
    j_e = 1e11 A/m^2 along +x (a 1 x 1 nm column of demos/pt_co_strip.geo, every face free).
    The spin Hall current injects moments along p = j x z = -y into the Co (BORIS: moments -y on
    the top of the Pt); absorbed, they turn the Co towards -y: T_y < 0, the damping-like part
    along p - (p.u)u = -y positive, and equal to the 1D transfer calculation (rotated to this
    frame) within 1% per unit area; the field-like part along p x u (its sign is the sd
    exchange's)."""
    geo = ROOT / "demos" / "pt_co_strip.geo"
    out = comm_tmp / "ptco"
    assert run("run", write_case(comm_tmp, PT_CO.format(geo=geo, j=J, theta=THETA)), "-o", out, "-q") == 0
    s = COMM.bcast(json.loads((out / "summary.json").read_text()) if RANK == 0 else None, root=0)
    co = s["regions"]["Co"]
    sot = co["spin_orbit_torque"]
    T = np.array(co["torque_integral"]) / 1.0  # per unit area: the column is 1 x 1 nm
    assert np.allclose(sot["p"], [0.0, -1.0, 0.0], atol=1e-6), sot["p"]
    assert np.allclose(sot["u"], [0.0, 0.0, 1.0], atol=1e-12)
    assert T[1] < 0 and sot["damping_like"] == pytest.approx(-T[1], rel=1e-12)
    assert sot["field_like"] == pytest.approx(T[0], rel=1e-12)
    t1 = co_torque_transfer()  # frame (x, y, z)_1D = (z, x, y)_strip
    ref = np.array([t1[1], t1[2], t1[0]])
    assert T == pytest.approx(ref, rel=0.01, abs=0.01 * np.linalg.norm(ref))
    # the injected moments per unit area and second: theta (muB/e) j, all of it crossing into Co
    assert sot["injected_spin_current"] == pytest.approx([0.0, -THETA * MUB_OVER_E * J, 0.0],
                                                         rel=1e-6, abs=1e-6 * THETA * MUB_OVER_E * J)
    # absorbed: most of the ideal sink's theta (muB/e) j (1 - 1/cosh(t_pt/l_sf)), not half, not twice
    ideal = THETA * MUB_OVER_E * J * (1 - 1 / np.cosh(2.0)) * 1e9  # A/(m s) nm
    assert 0.6 < sot["damping_like"] / ideal < 1.0, sot["damping_like"] / ideal


@pytest.mark.mpi
@pytest.mark.parametrize("old,new,words", [
    ("theta_SH = 0.1", "theta_SH = 1.5", "[regions.Pt] theta_SH = 1.5: must be in [-1, 1]"),
    ('drive = "uniform"\nj_A_per_m2 = [0, 1e11, 0]', "",
     "[regions.Pt] theta_SH = 0.1: a spin Hall source needs a charge current"),
    ("j_A_per_m2 = [0, 1e11, 0]", "j_A_per_m2 = [0, 0, 0]",
     "[regions.Pt] theta_SH = 0.1: a spin Hall source has no current"),
    ("j_A_per_m2 = [0, 1e11, 0]", "j_A_per_m2 = [1e11, 0, 0]",
     "[regions.Pt] theta_SH = 0.1: a spin Hall source in a 1D device"),
    (None, '[geometry]\nkind = "slab"\n[material]\ntheta_SH = 0.2\n',
     "[material] theta_SH = 0.2: a spin Hall source needs a charge current"),
], ids=["out of range", "no drive", "zero current", "1D along the line", "slab"])
def test_bad_spin_hall_input_is_one_line(comm_tmp, capfd, old, new, words):
    """theta_SH outside [-1, 1], or a spin Hall angle with no current to turn (no drive, a zero
    current, a 1D line along its current): one line naming the key and value, exit 2, before
    any mesh is built."""
    from test_user_trips import bad_input

    case = STACK_CASE.format(geo=ROOT / "demos" / "pt_co_stack.geo")
    case = new if old is None else case.replace(old, new)
    line = bad_input(comm_tmp, capfd, case)
    if RANK == 0:
        assert words in line, line


@pytest.mark.mpi
def test_sweep_table_has_the_torques(comm_tmp):
    """A sweep over theta_SH of the 1D Pt/Co stack: sweep.csv has each magnet's damping-like,
    field-like and ratio columns. They are measured along the injected p, which reverses with
    theta_SH, so they are the same for +-theta_SH (the torque itself reverses: see the sign
    tests) and nonzero."""
    import csv

    from test_cli import run, write_case

    path = write_case(comm_tmp, STACK_CASE.format(geo=ROOT / "demos" / "pt_co_stack.geo"))
    out = comm_tmp / "sweep"
    assert run("sweep", path, "--param", "regions.Pt.theta_SH=0.1,-0.1", "-o", out, "-q") == 0
    if RANK == 0:
        with open(out / "sweep.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert {"damping_like_Co", "field_like_Co", "ratio_Co"} <= set(rows[0])
        a, b = (float(r["damping_like_Co"]) for r in rows)
        assert a > 0 and b == pytest.approx(a, rel=1e-9)


STACK_CASE = """
[geometry]
kind = "gmsh"
file = "{geo}"
parameters = {{h = 0.2}}
[current]
drive = "uniform"
j_A_per_m2 = [0, 1e11, 0]
[material]
P = 0.5
[regions.Pt]
magnet = false
theta_SH = 0.1
[regions.Co]
profile = "uniform"
direction = [1, 0, 0]
[output]
png = false
"""


DYNAMIC = """
[geometry]
kind = "gmsh"
file = "{geo}"
parameters = {{t_pt = 4, t_co = 3, h = 0.05}}
[current]
drive = "uniform"
j_A_per_m2 = [0, {j}, 0]
[material]              # Co as in the Pt/Co test
tau_sf_s = 1e-13
a0 = 0.0
omega0_per_s = 1e15
P = 0.5
Ms_A_per_m = 1.4e6
alpha_G = 0.0
[regions.Pt]
magnet = false
tau_sf_s = 4e-15
theta_SH = 0.1
[regions.Co]
profile = "uniform"
direction = [1, 0, 0]
[dynamics]
t_end_s = 1e-12
dt_s = 1e-13
[discretization]
degree = 2
[output]
png = false
paraview = false
"""


@pytest.mark.mpi
def test_the_llg_turns_the_co_with_the_spin_orbit_torque(comm_tmp):
    """The LLG takes the torque through B_sd as every other one: Pt/Co on the thickness axis
    (u = +x, j_e along +y, p = -z, no damping), 1 ps: <u> starts along T/(Ms t_Co), i.e. towards
    p at the damping-like rate (its sign independent of the sd exchange's: absorption) and along
    p x u = -y at the field-like one (its sign that of the ferromagnetic sd exchange: +y with the
    old, antiferromagnetic one), the transfer values of the Pt/Co test, within 2%."""
    out = comm_tmp / "dyn"
    text = DYNAMIC.format(geo=ROOT / "demos" / "pt_co_stack.geo", j=J)
    assert run("run", write_case(comm_tmp, text), "-o", out, "-q") == 0
    if RANK == 0:
        t = np.genfromtxt(out / "dynamics.csv", delimiter=",", names=True)
        rate = co_torque_transfer() / (3.0 * 1.4e6)  # [1/s]: T per volume over Ms
        assert t["u_z_Co"][-1] < 0 and t["u_y_Co"][-1] < 0 and rate[1] < 0
        assert t["u_z_Co"][-1] / t["t_s"][-1] == pytest.approx(rate[2], rel=0.02)
        assert t["u_y_Co"][-1] / t["t_s"][-1] == pytest.approx(rate[1], rel=0.02)
