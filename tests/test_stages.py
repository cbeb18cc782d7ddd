"""[[dynamics.stages]] (issue 18): a field sequence in one case, each stage from the last one's
state, with its own field, damping, step and relaxation; the states as OVF 2.0 files that start
the next case; bad stage lists refused in one line."""

import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.io.ovf import read_ovf
from test_cli import run, write_case
from test_dynamics import DYN_CASE

RANK = MPI.COMM_WORLD.rank
GEO = Path(__file__).resolve().parents[1] / "meshes" / "slab.geo"

# The 1D spin valve of test_dynamics without the drive (rho = 0): the free layer starts along
# y, relaxes onto z (its anisotropy axis and the field), then precesses in 0.5 T along x.
STAGES = """
[[dynamics.stages]]
t_end_s = 4e-10
dt_s = 2e-12
relax = true
alpha_G = 0.5
relax_torque_T = 1e-4
[[dynamics.stages]]
t_end_s = 2e-11
B_T = [0.5, 0.0, 0.0]
{second}
"""


def staged(second: str = "", order: int = 1, first: dict | None = None) -> str:
    text = DYN_CASE.format(geo=GEO, rho=0.0).replace("t_end_s = 1e-10\n", "").replace(
        "output_every = 50", f"output_every = 50\norder = {order}")
    stages = STAGES.format(second=second)
    for a, b in (first or {}).items():
        stages = stages.replace(a, b, 1)
    return text.replace("[discretization]", stages + "[discretization]")


def final(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())["dynamics"]["final"]


@pytest.mark.mpi
def test_stages_run_in_sequence_each_with_its_own_field_and_damping(comm_tmp):
    """Stage 1 relaxes (alpha 0.5, no precession) onto +z and stops early; stage 2 precesses in
    0.5 T along x with the magnet's own damping again (0.05): the same end as a stage that says
    alpha_G = 0.05, and far from one that keeps alpha_G = 1. u_stage1.ovf holds the relaxed
    state (0, 0, 1); the table numbers the stages and its times run on across them."""
    outs = {}
    for name, second in (("own", ""), ("given", "alpha_G = 0.05"), ("damped", "alpha_G = 1.0")):
        outs[name] = comm_tmp / name
        assert run("run", write_case(comm_tmp, staged(second)), "-o", outs[name], "-q") == 0
    if RANK != 0:
        return
    out = outs["own"]
    table = np.genfromtxt(out / "dynamics.csv", delimiter=",", names=True)
    first = table[table["stage"] == 1]
    second = table[table["stage"] == 2]
    assert 1 < len(first) < 201  # relaxed before its 4e-10 s (200 steps)
    assert len(second) == 20 and np.allclose(np.diff(second["t_s"]), 1e-12)
    assert second["t_s"][-1] == pytest.approx(first["t_s"][-1] + 2e-11)
    assert first["u_z_layer_right"][-1] > 0.999
    ovf = read_ovf(out / "u_stage1.ovf")
    assert ovf.meshunit == "m" and ovf.shape[0] > 10
    assert np.allclose(ovf.values.reshape(-1, 3), [0.0, 0.0, 1.0], atol=2e-3)
    assert {"u_stage2.ovf", "u_final.ovf"} <= {p.name for p in out.iterdir()}
    own, given, damped = (final(outs[k]) for k in ("own", "given", "damped"))
    assert own["u_x_layer_right"] == pytest.approx(given["u_x_layer_right"], abs=1e-12)
    # 20 ps in 0.5 T: alpha 0.05 turns u 0.17 rad towards x, alpha 1 about 0.8 rad
    assert damped["u_x_layer_right"] - own["u_x_layer_right"] > 0.3
    s = json.loads((out / "summary.json").read_text())["dynamics"]
    assert s["relaxed"] is True and s["max_torque_T"] < 1e-4


@pytest.mark.mpi
def test_a_stage_that_cannot_relax_stops_the_run_with_exit_1(comm_tmp, capfd):
    """A relax stage too short to converge: exit 1, a message naming the stage and the torque,
    and the result folder with its state (u_stage1.ovf) but no stage 2."""
    text = staged(first={"t_end_s = 4e-10": "t_end_s = 4e-12"})
    out = comm_tmp / "out"
    assert run("run", write_case(comm_tmp, text), "-o", out) == 1
    err = capfd.readouterr().err
    if RANK == 0:
        assert "[dynamics.stages[1]] relax did not converge" in err and "largest torque" in err
        names = {p.name for p in out.iterdir()}
        assert "u_stage1.ovf" in names and "u_stage2.ovf" not in names
        assert json.loads((out / "summary.json").read_text())["dynamics"]["unrelaxed_stage"] == 1


@pytest.mark.parametrize("old,new,words", [
    ("t_end_s = 2e-11\n", "", "[dynamics.stages[2]] t_end_s is missing"),
    ("t_end_s = 2e-11", "t_end_s = 2.5e-12", "[dynamics.stages[2]] dt_s = 1e-12: t_end_s = 2.5e-12 must be a whole"),
    ("relax_torque_T = 1e-4", "relax_torque = 1e-4", "unknown key [dynamics.stages[1]] 'relax_torque'"),
    ("dt_s = 1e-12\n", "", "[dynamics.stages[2]] dt_s is missing"),
    # [dynamics] is one table (given twice is a TOML error): t_end_s goes into it
    ("[dynamics]\n", "[dynamics]\nt_end_s = 1e-9\n", "[dynamics] t_end_s = 1e-09: the stages last"),
], ids=["no t_end", "not whole", "misspelt", "no dt", "t_end not the sum"])
def test_bad_stage_lists_are_one_line_and_exit_2(comm_tmp, capfd, old, new, words):
    text = staged().replace(old, new, 1)
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
    err = capfd.readouterr().err
    if RANK == 0:
        assert words in err, err
        assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
    assert not (comm_tmp / "out").exists()


def test_order_2_takes_adaptive_steps_and_relaxes_at_first_order(comm_tmp):
    """order = 2 (the default) with tolerance runs adaptive midpoint steps; relax = true with it
    relaxes (first order, as relaxation always is): both exit 0."""
    text = DYN_CASE.format(geo=GEO, rho=0.0).replace("output_every = 50", "output_every = 50\norder = 2")
    for extra in ("tolerance = 1e-4", "relax = true"):
        out = comm_tmp / extra.split()[0]
        assert run("run", write_case(comm_tmp, text.replace("order = 2", f"order = 2\n{extra}")),
                   "-o", out, "-q") == 0


def test_vortex_initial_state_turns_the_right_way():
    """profile = "vortex": circulation +1 is counter-clockwise seen from +z (u = +y on the +x
    side), the core points along polarity z, |u| = 1; circulation 2 is refused by name."""
    from fem_spin.io.case import CaseError, resolve_case
    from fem_spin.physics.magnetization import Vortex

    x = np.array([[10.0, 0.0, -10.0, 0.0, 3.0], [0.0, 10.0, 0.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    for c, p in ((1, 1), (-1, -1)):
        u = Vortex(circulation=c, polarity=p, core=2.0)(x)
        assert u[:, 0] == pytest.approx([0.0, c, 0.0], abs=1e-6)
        assert u[:, 1] == pytest.approx([-c, 0.0, 0.0], abs=1e-6)
        assert u[:, 3] == pytest.approx([0.0, 0.0, p])
        assert np.linalg.norm(u, axis=0) == pytest.approx(1.0)
    shifted = Vortex(center=(1.0, 2.0, 0.0))(x[:, 4:] - [[-1.0], [-2.0], [0.0]])
    assert shifted[:, 0] == pytest.approx(Vortex()(x[:, 4:])[:, 0])
    text = DYN_CASE.format(geo=GEO, rho=0.0).replace('[regions.layer_right]\nprofile = "uniform"',
                                                     '[regions.layer_right]\nprofile = "vortex"')
    import tomllib

    assert resolve_case(tomllib.loads(text))["regions"]["layer_right"]["profile"] == "vortex"
    with pytest.raises(CaseError, match=r"circulation = 2: must be one of -1, 1"):
        resolve_case(tomllib.loads(text.replace('profile = "vortex"', 'profile = "vortex"\ncirculation = 2')))
