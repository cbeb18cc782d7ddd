"""The charge-current drive (issue 12): C10 (one F/N interface with current), a collinear F/N/F
spin valve against an independent transfer calculation, SI units in every output."""

import json

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.physics.coefficients import MUB_OVER_E, Region
from fem_spin.physics.magnetization import Uniform
from fem_spin.physics.material import Material
from fem_spin.geometry.mesh import build_from_file, inspect_mesh_file
from fem_spin.physics.problem import SpinProblem
from helpers import nodal_values
from test_cli import run, write_case

RANK = MPI.COMM_WORLD.rank
J_E = 1e11  # A/m^2 along +x
FERRO = Material(D=1e-3, tau_sf=4e-13, a0=5.0, omega0=5e12)   # l_F = 20 nm
NORMAL = Material(D=5e-3, tau_sf=2e-12, a0=0.0, omega0=0.0)   # l_N = 100 nm


def layers_geo(bounds: list[float], names: list[str], h: float) -> str:
    """A 1D .geo: layers between consecutive bounds, named; end points `left`, `right`."""
    pts = "".join(f"Point({i + 1}) = {{{x}, 0, 0, {h}}};\n" for i, x in enumerate(bounds))
    lines = "".join(f"Line({i + 1}) = {{{i + 1}, {i + 2}}};\n" for i in range(len(names)))
    groups = "".join(f'Physical Curve("{n}", {i + 1}) = {{{i + 1}}};\n' for i, n in enumerate(names))
    return (pts + lines + groups + f'Physical Point("left", 1) = {{1}};\n'
            f'Physical Point("right", 2) = {{{len(bounds)}}};\n')


def solve_layers(folder, bounds, layers, h, comm=MPI.COMM_WORLD, j=J_E):
    """layers: [(name, Material, u or None, P)]; m = 0 at both ends; uniform j_e = j x."""
    geo = folder / f"layers_{abs(hash((tuple(bounds), h)))}.geo"
    if comm.rank == 0:
        geo.write_text(layers_geo(bounds, [n for n, *_ in layers], h))
    comm.Barrier()
    dim = comm.bcast(inspect_mesh_file(geo).dim if comm.rank == 0 else None, root=0)
    dom = build_from_file(geo, dim, comm)
    regions = {n: Region(material=mat, magnetization=None if u is None else Uniform(tuple(u)), polarization=P)
               for n, mat, u, P in layers}
    p = SpinProblem(domain=dom, regions=regions, current=(j, 0.0, 0.0), degree=2,
                    dirichlet={"left": np.zeros(3), "right": np.zeros(3)})
    p.solve()
    return p


def collinear_transfer(bounds, layers, x):
    """Independent calculation: m_z = A_i e^{x/l_i} + B_i e^{-x/l_i} per layer, m_z = 0 at the
    ends, m_z and J = -D m_z' - P (muB/e) u_z j continuous at each interface (with e > 0 the
    magnetization carried by the current flows with the electrons, along -j)."""
    n = len(layers)
    M, rhs = np.zeros((2 * n, 2 * n)), np.zeros(2 * n)
    ls = [np.sqrt(mat.D * mat.tau_sf) * 1e9 for _, mat, _, _ in layers]  # nm
    S = [-P * MUB_OVER_E * (u[2] if u is not None else 0.0) * J_E for _, _, u, P in layers]
    D = [mat.D for _, mat, _, _ in layers]

    def val(i, xx):
        return [np.exp(xx / ls[i]), np.exp(-xx / ls[i])]

    def der(i, xx):  # d/dx in 1/m
        return [np.exp(xx / ls[i]) / ls[i] * 1e9, -np.exp(-xx / ls[i]) / ls[i] * 1e9]

    M[0, 0:2] = val(0, bounds[0])
    M[1, 2 * n - 2:] = val(n - 1, bounds[-1])
    for k in range(n - 1):  # interface at bounds[k + 1] between layers k and k + 1
        xb, r = bounds[k + 1], 2 + 2 * k
        M[r, 2 * k:2 * k + 2], M[r, 2 * k + 2:2 * k + 4] = val(k, xb), np.negative(val(k + 1, xb))
        M[r + 1, 2 * k:2 * k + 2] = np.multiply(-D[k], der(k, xb))
        M[r + 1, 2 * k + 2:2 * k + 4] = np.multiply(D[k + 1], der(k + 1, xb))
        rhs[r + 1] = S[k + 1] - S[k]
    c = np.linalg.solve(M, rhs)
    which = np.searchsorted(bounds[1:-1], x, side="right")
    return np.array([c[2 * i] * np.exp(xx / ls[i]) + c[2 * i + 1] * np.exp(-xx / ls[i])
                     for i, xx in zip(which, x)])


@pytest.mark.mpi
@pytest.mark.parametrize("P", [0.5, -0.5], ids=["P>0", "P<0"])
@pytest.mark.parametrize("j", [J_E, -J_E], ids=["electrons_N_to_F", "electrons_F_to_N"])
def test_c10_single_interface(comm_tmp, P, j):
    """Spin injection (MODEL.md C10): F (u = z) on x < 0, N on x > 0, leads of 10 decay lengths
    with m = 0 at the far ends. The physical fact: the electrons carry moments along +u (P > 0),
    so electrons flowing F -> N (j_e along -x) pile up an accumulation along +u at the interface,
    and electrons flowing N -> F (j_e along +x) deplete it, leaving it along -u. The amplitude:
    m(0) = -P (muB/e) j_x/(D_F/l_F + D_N/l_N), decaying as exp(x/l_F) and exp(-x/l_N)."""
    layers = [("F", FERRO, (0.0, 0.0, 1.0), P), ("N", NORMAL, None, 0.0)]
    p = solve_layers(comm_tmp, [-200.0, 0.0, 1000.0], layers, 0.5, j=j)
    x, m = nodal_values(p)
    lF, lN = 20e-9, 100e-9
    m0 = -P * MUB_OVER_E * j / (FERRO.D / lF + NORMAL.D / lN)
    # the sign from the physics, not from the formula: along +u iff the electrons flow F -> N
    # (j < 0) with moments along +u (P > 0), or N -> F with moments along -u (P < 0)
    assert np.sign(m0) == (1 if (j < 0) == (P > 0) else -1)
    exact = m0 * np.where(x < 0, np.exp(x * 1e-9 / lF), np.exp(-x * 1e-9 / lN))
    if len(x):
        assert np.max(np.abs(m[:, 2] - exact)) < 1e-3 * abs(m0)
        assert np.max(np.abs(m[:, :2])) < 1e-9 * abs(m0)  # collinear: no transverse part
        i0 = np.argmin(np.abs(x))
        if abs(x[i0]) < 1e-9:
            assert m[i0, 2] == pytest.approx(m0, rel=1e-3)
    # the decay lengths: ratios one length apart on each side
    f = lambda xx: float(np.interp(xx, x, m[:, 2])) if len(x) else 0.0  # noqa: E731
    if RANK == 0 and MPI.COMM_WORLD.size == 1:
        assert f(-20.0) / f(0.0) == pytest.approx(np.exp(-1), rel=1e-3)
        assert f(100.0) / f(0.0) == pytest.approx(np.exp(-1), rel=1e-3)
    assert abs(m0) == pytest.approx(0.5 * 5.7884e-5 * 1e11 / (50e3 + 50e3), rel=1e-4)  # 28.9 A/m


@pytest.mark.parametrize("u2", [(0.0, 0.0, 1.0), (0.0, 0.0, -1.0)], ids=["parallel", "antiparallel"])
def test_fnf_spin_valve_collinear(comm_tmp, u2):
    bounds = [-60.0, 0.0, 5.0, 65.0]
    layers = [("F1", FERRO, (0.0, 0.0, 1.0), 0.6), ("N", NORMAL, None, 0.0), ("F2", FERRO, u2, 0.6)]
    p = solve_layers(comm_tmp, bounds, layers, 0.25)
    x, m = nodal_values(p)
    exact = collinear_transfer(bounds, layers, x)
    peak = np.max(np.abs(collinear_transfer(bounds, layers, np.linspace(-60, 65, 2001))))
    assert np.max(np.abs(m[:, 2] - exact)) < 1e-3 * peak
    spacer = collinear_transfer(bounds, layers, np.array([2.5]))[0]
    if u2[2] > 0:  # parallel: the two interfaces' sources cancel in the middle of the spacer
        assert abs(spacer) < 0.05 * peak
    else:  # antiparallel: they add up there
        assert abs(spacer) > 0.5 * peak


DRIVEN = """
[geometry]
kind = "gmsh"
file = "{geo}"
[current]
drive = "{drive}"
{j}
[material]
D_m2_per_s = 1e-3
tau_sf_s = 4e-13
a0 = 5.0
omega0_per_s = 5e12
P = 0.5
sigma_S_per_m = 1e7
Ms_A_per_m = 8e5
[regions.F]
profile = "uniform"
direction = [0, 0, 1]
[regions.N]
magnet = false
D_m2_per_s = 5e-3
tau_sf_s = 2e-12
[boundaries.left]
type = "fixed"
m = [0, 0, 0]
{left}
[boundaries.right]
type = "fixed"
m = [0, 0, 0]
{right}
[discretization]
degree = 2
[output]
profile_points = 601
png = false
"""


@pytest.mark.mpi
@pytest.mark.parametrize("drive", ["uniform", "solved"])
def test_si_units_in_every_output(comm_tmp, drive):
    """The CLI with a current drive: C10's amplitude in profile.csv (A/m; along -u: the
    electrons flow N -> F), units in the CSV header, the ParaView names and summary.json; a
    solved current equals the uniform one here."""
    geo = comm_tmp / "fn.geo"
    if RANK == 0:
        geo.write_text(layers_geo([-200.0, 0.0, 1000.0], ["F", "N"], 0.5))
    # 1D: a contact carries a current density through the cross-section
    j = 'j_A_per_m2 = [1e11, 0, 0]' if drive == "uniform" else ""
    left, right = ("", "") if drive == "uniform" else ("current_A_per_m2 = 1e11", "potential_V = 0.0")
    case = write_case(comm_tmp, DRIVEN.format(geo=geo, drive=drive, j=j, left=left, right=right))
    out = comm_tmp / drive
    assert run("run", case, "-o", out, "-q") == 0
    if RANK == 0:
        header = (out / "profile.csv").read_text().splitlines()[0]
        assert header == "s_nm,m_x_A_per_m,m_y_A_per_m,m_z_A_per_m"
        prof = np.loadtxt(out / "profile.csv", delimiter=",", skiprows=1)
        m0 = 0.5 * MUB_OVER_E * 1e11 / (1e-3 / 20e-9 + 5e-3 / 100e-9)
        assert np.min(prof[:, 3]) == pytest.approx(-m0, rel=1e-3) and np.max(prof[:, 3]) < 1e-3 * m0
        s = json.loads((out / "summary.json").read_text())
        assert "A/m" in s["units"]["m"] and "A/s" in s["units"]["J"] and "in T" in s["units"]["B_sd"]
        text = (out / "fields" / "000000.pvtu").read_text()
        for name in ("m_A_per_m", "T_A_per_m_s", "B_sd_T"):
            assert name in text, name
        if drive == "solved":
            assert s["contacts"]["left"]["current_A_per_m2"] == pytest.approx(1e11, rel=1e-10)
            assert (out / "potential.pvd").exists()
            assert "j_e_A_per_m2" in (out / "potential" / "000000.pvtu").read_text()
            # V drops by j L / sigma = 1e11 * 1.2e-6 / 1e7 = 12 mV
            assert s["contacts"]["left"]["potential_V"] == pytest.approx(1e11 * 1200e-9 / 1e7, rel=1e-9)


def test_current_input_errors(comm_tmp, capfd):
    base = DRIVEN.format(geo="{geo}", drive="uniform", j="", left="", right="")
    geo = comm_tmp / "fn.geo"
    if RANK == 0:
        geo.write_text(layers_geo([-20.0, 0.0, 20.0], ["F", "N"], 1.0))
    cases = [
        (base.format(geo=geo), "drive = 'uniform' needs j_A_per_m2"),
        (base.format(geo=geo).replace('drive = "uniform"', 'drive = "solved"'), "needs a contact at a fixed potential"),
        (base.format(geo=geo).replace("P = 0.5\n", "").replace("[current]", "[current]\nj_A_per_m2 = [1e11, 0, 0]"),
         "[regions.F] P is missing"),
        (base.format(geo=geo).replace("magnet = false", "magnet = false\nP = 0.3")
         .replace("[current]", "[current]\nj_A_per_m2 = [1e11, 0, 0]"), "normal metal (magnet = false) has P = 0"),
    ]
    for text, words in cases:
        assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
        err = capfd.readouterr().err
        if RANK == 0:
            assert words in err, (words, err)
        assert not (comm_tmp / "out").exists()
