"""A short muMAG standard problem 4 run (issue 18): the film of meshes/sp4.geo at 6 nm cells,
from (1, 0.1, 0) in field 1, 10 ps of second-order 1 ps steps against a stored fine run of the
same mesh (1/8 ps steps, tests/data/sp4_short.json; `python tests/test_sp4.py` makes it), on 1
and 2 ranks. The full problem (3 nm, 1 ns, both fields, the published solutions) is
demos/sp4.py and docs/magnetostatics.md."""

import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parent / "data" / "sp4_short.json"
COMM = MPI.COMM_WORLD

CASE = f"""
[geometry]
kind = "gmsh"
file = "{ROOT / 'meshes' / 'sp4.geo'}"
parameters = {{{{h = 6.0}}}}
[material]
Ms_A_per_m = 8.0e5
A_ex_J_per_m = 1.3e-11
alpha_G = 0.02
[field]
B_T = [-24.6e-3, 4.3e-3, 0.0]
[regions.film]
profile = "uniform"
direction = [1.0, 0.1, 0.0]
[dynamics]
t_end_s = 1e-11
dt_s = {{dt}}
order = {{order}}
rho = 0.0
[discretization]
degree = 1
"""


def film(text: str, comm=COMM):
    """(case, coupling) of a case text on the SP4 film (rho = 0: no sd field)."""
    from fem_spin.app.build import build_domain, llg_of, make_problem
    from fem_spin.app.preflight import check_device_file
    from fem_spin.io.case import resolve_case
    from fem_spin.io.model import as_case
    from fem_spin.physics.dynamics import Coupling

    case = as_case(resolve_case(tomllib.loads(text)))
    case = case.replace("geometry", dim=comm.bcast(check_device_file(case) if comm.rank == 0 else None))
    problem = make_problem(case, build_domain(case, comm))
    return case, Coupling(problem, llg_of(case, problem), 0.0)


def averages(dt: float, order: int = 2, comm=COMM) -> np.ndarray:
    """<u> (rows t, x, y, z) every 1 ps of the short run."""
    from fem_spin.physics.dynamics import run_dynamics

    _, coupling = film(CASE.format(dt=dt, order=order), comm)
    try:
        rows = list(run_dynamics(coupling, 1e-11, dt, regions=["film"], output_every=10 ** 6))
    finally:
        coupling.destroy()
        coupling.llg.destroy()
    every = int(round(1e-12 / dt))
    return np.array([[r["t_s"], r["u_x_film"], r["u_y_film"], r["u_z_film"]] for r in rows[::every]])


@pytest.mark.mpi
def test_short_sp4_run_matches_its_fine_reference():
    """Second-order steps (the midpoint rule) of 1 ps are within 1e-5 of the 1/8 ps reference in
    every <u> component over 10 ps (measured: 9.8e-7; 5.6e-7 at 1/2 ps, where the demag's 1e-5
    CG tolerance in dynamics shows); first-order steps are 5.9e-4 off. A demag field twice too
    strong moves <u_z> by 3.9e-3 and a reversed field <u_y> by 2e-2 in these 10 ps (the
    reference's <u_z> reaches -7.0e-3, its <u_y> rises from 0.0995 to 0.106)."""
    ref = json.loads(REFERENCE.read_text())
    want = np.array([ref["t_s"], ref["ux"], ref["uy"], ref["uz"]]).T
    got = averages(1e-12)
    assert got.shape == want.shape
    assert np.allclose(got[:, 0], want[:, 0], rtol=1e-12)
    err = np.abs(got[:, 1:] - want[:, 1:]).max()
    assert err < 1e-5, err
    first = averages(1e-12, order=1)
    assert np.abs(first[:, 1:] - want[:, 1:]).max() > 3e-4


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["shell", "fembem"])
def test_film_demag_tensor_and_relaxed_s_state(method):
    """The film's demagnetizing tensor from its air-embedded twin against Aharoni's rectangular
    prism (500 x 125 x 3 nm: N_xx 0.00918, N_yy 0.03818, N_zz 0.9526; 3 nm cells gave 0.0089,
    0.0371, 0.9513), and the relaxation into the s-state: from (1, 0.1, 0), damping only, 10 ps
    steps of alpha 0.1 (the demag's local part implicit), to 1e-5 T in under 100 steps (the
    explicit field alone diverges at these steps), ending at <u> = (0.969, 0.121, 0) (mumax3 at
    3.9 nm: (0.96697, 0.12527, 0))."""
    from fem_spin.physics.dynamics import Stage, run_dynamics

    text = CASE.format(dt=1e-11, order=1).replace("B_T = [-24.6e-3, 4.3e-3, 0.0]", "B_T = [0.0, 0.0, 0.0]")
    text = text.replace("t_end_s = 1e-11", f"t_end_s = 1e-9\ndemag_method = {method!r}")
    _, coupling = film(text)
    llg = coupling.llg
    try:
        N = llg.demag.tensor()
        assert np.diag(N) == pytest.approx([0.00918, 0.03818, 0.9526], rel=0.06)
        # FEM-BEM's P1 potential on the 6 nm cells alone: N_zz -1.2%, trace 0.986 (the twin's P2:
        # -0.2%; FEM-BEM at 3 nm: -0.39%, docs/magnetostatics.md)
        zz, trace = {"shell": (0.005, 0.01), "fembem": (0.02, 0.02)}[method]
        assert N[2, 2] == pytest.approx(0.9526, rel=zz)
        assert np.trace(N) == pytest.approx(1.0, abs=trace)
        rows = run_dynamics(coupling, 1e-9, 1e-11, regions=["film"], output_every=10 ** 6,
                            stages=[Stage(1e-9, 1e-11, (0.0, 0.0, 0.0), 0.1, True, 1e-5)])
    finally:
        coupling.destroy()
        llg.destroy()
    assert rows.relaxed and len(rows) < 101, (rows.relaxed, len(rows))
    last = rows[-1]
    assert [last["u_x_film"], last["u_y_film"], last["u_z_film"]] == pytest.approx([0.969, 0.121, 0.0], abs=0.01)
    assert last["total_J"] < rows[0]["total_J"]


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["shell", "fembem"])
def test_the_checked_energy_is_the_one_whose_gradient_the_llg_steps_with(method):
    """The energy check's demag energy (demag_nodal_J, -(1/2) int M.B_d with the steps' nodal
    weights) changes along a tangent perturbation du of an s-like state as -int Ms B_d.du, the
    work of the field the LLG uses: within 1% (measured 0.59% at 6 nm; 0.06% with the twin Gmsh
    made before the mean edge was rounded to 10 digits, issue 36: the shell's number depends on
    its twin's mesh). The twin's E_d, the more accurate number, is off by 2.4% (2.7% on the
    old twin, 1.3% at 3 nm): with it SP4's field 2 showed 10 rises
    at its start whatever the step or the demag tolerance (docs/micromagnetics.md). FEM-BEM's
    nodal energy is within 0.2% (its operator is not symmetric: the double layer), its own E_d
    within 0.3%."""
    import ufl

    from fem_spin._backend import dolfinx

    _, coupling = film(CASE.format(dt=1e-12, order=2).replace("order = 2", f"order = 2\ndemag_method = {method!r}"))
    llg = coupling.llg
    x = llg.u.function_space.tabulate_dof_coordinates()[:, 0] / 250.0
    u0 = np.stack([np.ones_like(x), 0.6 * np.sign(x) * x ** 4 + 0.1, 0.02 * x], axis=1)
    u0 /= np.linalg.norm(u0, axis=1)[:, None]
    du = np.stack([np.sin(3 * x), np.cos(2 * x), 0.1 * np.sin(5 * x)], axis=1)
    du -= np.sum(du * u0, axis=1)[:, None] * u0

    def energies(eps):
        v = u0 + eps * du
        llg.u.x.array[:] = (v / np.linalg.norm(v, axis=1)[:, None]).ravel()
        e = llg.energies()  # B_d of this u first
        return np.array([e["demag_nodal_J"], e["demag_J"]])

    try:
        eps = 1e-4
        slope = (energies(eps) - energies(-eps)) / (2 * eps)
        energies(0.0)
        w = dolfinx.fem.Function(llg.u.function_space)
        w.x.array[:] = du.ravel()
        work = COMM.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(
            -llg.Ms * ufl.dot(llg.B_demag, w) * llg.dxv((1, 2)))), op=MPI.SUM) * 1e-27
        row = llg.energies()
    finally:
        coupling.destroy()
        llg.destroy()
    assert abs(slope[0] / work - 1) < 1e-2, (slope, work)
    if method == "shell":
        assert abs(slope[1] / work - 1) > 1.5e-2, (slope, work)  # the twin's E_d is not it
    assert row["demag_nodal_J"] == pytest.approx(row["demag_J"], rel=0.02)  # the same energy
    assert llg.stepped_total(row) == pytest.approx(row["total_J"] - row["demag_J"] + row["demag_nodal_J"])


@pytest.mark.mpi
def test_demag_every_second_step_keeps_the_short_run():
    """[dynamics] demag_every = 2 solves the demag at every other step and extrapolates between
    (the nonlocal part along the parabola through the last three solves): the short run at 1 ps
    is within 1.5e-4 of the reference (measured 6.4e-5; every step's solve 1e-6: the extrapolation
    costs the midpoint most of its accuracy),
    with 7 solves instead of 11. Holding the last solve instead is 5.9e-4 off in <u_y>. Between
    the solves the energies are NaN (no potential), at the solves and at the end they are not."""
    from fem_spin.physics.dynamics import run_dynamics

    ref = json.loads(REFERENCE.read_text())
    want = np.array([ref["t_s"], ref["ux"], ref["uy"], ref["uz"]]).T
    _, coupling = film(CASE.format(dt=1e-12, order=2).replace("order = 2", "order = 2\ndemag_every = 2"))
    llg = coupling.llg
    try:
        rows = list(run_dynamics(coupling, 1e-11, 1e-12, regions=["film"], output_every=10 ** 6))
        solves = llg.demag.evaluations
    finally:
        coupling.destroy()
        llg.destroy()
    got = np.array([[r["t_s"], r["u_x_film"], r["u_y_film"], r["u_z_film"]] for r in rows])
    err = np.abs(got[:, 1:] - want[:, 1:]).max()
    assert err < 1.5e-4, err
    assert solves == 7, solves  # steps 0, 1, 2 (the first parabola), then 4, 6, 8 and 10
    known = [np.isfinite(r["total_J"]) and np.isfinite(r["demag_nodal_J"]) for r in rows]
    assert known == [True, True, True, False, True, False, True, False, True, False, True], known


@pytest.mark.serial
@pytest.mark.parametrize("name, field", [
    ("fidimag_oommf_field1_2.5nm", 1), ("albuquerque_field1_2nm", 1), ("martinez_field1", 1),
    ("crank_nicolson_field1_2.5nm", 1), ("albuquerque_field2_2nm", 2), ("albuquerque_field2_4nm", 2),
    ("daquino_field2_2.5nm", 2)])
def test_single_published_solutions_are_read_in_the_published_units(name, field):
    """demos/sp4.py measures fem_spin's distance from the published mean against each single
    solution's: their files must be in seconds and <M>/Ms. Each starts from the s-state (<m_x>
    0.965-0.969, <m_y> 0.123-0.129: a unit slip in m would miss it) and crosses <m_x> = 0
    within 3 ps of the published mean (0.1384 / 0.1368 ns; a time in units of 5.65 ps read as
    1 ps would cross at 0.024 ns)."""
    from fem_spin.physics.dynamics import first_crossing

    data = ROOT / "demos" / "data" / "sp4"
    d = np.genfromtxt(data / f"{name}.csv", delimiter=",", names=True)
    mean = np.genfromtxt(data / f"magtense_mumag_published_mean_field{field}.csv", delimiter=",", names=True)
    assert 0.965 < d["mx"][0] < 0.969 and 0.123 < d["my"][0] < 0.129, (d["mx"][0], d["my"][0])
    assert abs(first_crossing(d["t_s"], d["mx"]) - first_crossing(mean["t_s"], mean["mx"])) < 3e-12
    assert 0.99e-9 < d["t_s"][-1] < 1.01e-9


if __name__ == "__main__":  # the stored reference: 1/8 ps second-order steps
    rows = averages(1.25e-13, comm=MPI.COMM_SELF)
    if len(sys.argv) > 1 and sys.argv[1] == "--print":
        print(rows)
    else:
        REFERENCE.write_text(json.dumps({"about": "tests/test_sp4.py: <u> of the SP4 film at h = 6 nm, "
                                         "field 1 from (1, 0.1, 0), order 2, dt = 1.25e-13 s",
                                         "t_s": rows[:, 0].tolist(), "ux": rows[:, 1].tolist(),
                                         "uy": rows[:, 2].tolist(), "uz": rows[:, 3].tolist()}, indent=1) + "\n")
