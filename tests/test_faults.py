"""Faults that used to hang, kill or mislead (issues 22 and 23). The signal and write-error
tests start real processes (`mpirun -n 2` in a subprocess with a timeout, real signals, an
injected write error) and are serial; the others run on 1 and 2 ranks."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from test_cli import SMALL, run, write_case
from test_dynamics import DYN_CASE, run_stopped

RANK = __import__("mpi4py.MPI", fromlist=["MPI"]).COMM_WORLD.rank

ROOT = Path(__file__).resolve().parents[1]
MPIRUN = shutil.which("mpirun") or shutil.which("mpiexec")


def launch(args: list[str], ranks: int, cwd: Path, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, *args]
    if ranks > 1:
        if MPIRUN is None:
            pytest.skip("no mpirun")
        cmd = [MPIRUN, "-n", str(ranks), *cmd]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kw)


STEADY_3D = """
[geometry]
kind = "slab"
dim = 3
length_nm = 60.0
width_nm = 4.0
h_interface_nm = 0.3
h_far_nm = 0.5
[material]
a0 = 10.0
omega0_per_s = 1e12
[discretization]
degree = 2
[solver]
preset = "direct"
[output]
png = false
"""


@pytest.mark.serial
@pytest.mark.parametrize("ranks", [1, 2])
def test_sigterm_during_a_steady_run_exits_143_and_leaves_nothing(tmp_path, ranks):
    """Gmsh's initialize installs a C handler for SIGTERM that killed the process outright
    (exit -15 / 'signal 15', a .res.partial-* folder left); now SIGTERM after meshing (a batch
    system's time limit) ends every rank with exit 143 and removes the temporary folder."""
    (tmp_path / "case.toml").write_text(STEADY_3D)
    p = launch(["-m", "fem_spin.app.cli", "run", "case.toml", "-o", "res"], ranks, tmp_path)
    out = []
    for line in p.stdout:
        out.append(line)
        # Meshed (Gmsh initialised and finalised) and assembled, so during the solve: a kill in
        # the middle of a JIT compile would leave a half-written form in the shared cache, and
        # with a cold cache (a new machine, the container) later tests would time out on it.
        if line.lstrip().startswith("assemble  done"):
            p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=120)
    text = "".join(out)
    assert rc == 143, text
    assert "terminated (SIGTERM)" in text
    assert sorted(x.name for x in tmp_path.iterdir()) == ["case.toml"], text


DRIVER = """
import errno, sys
from pathlib import Path
from mpi4py import MPI
real = Path.write_text

def full_disk(self, *a, **k):  # rank 0 writes the checkpoint's state.json: the disk is full
    if self.name == "state.json" and MPI.COMM_WORLD.rank == 0:
        raise OSError(errno.ENOSPC, "No space left on device", str(self))
    return real(self, *a, **k)

Path.write_text = full_disk
from fem_spin.app import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.serial
@pytest.mark.parametrize("ranks", [1, 2])
def test_checkpoint_write_error_stops_every_rank_and_keeps_the_folder(tmp_path, ranks):
    """A dynamic run whose checkpoint cannot be written (rank 0 writes state.json; the disk
    is full): every rank stops with one message and exit 1 (on 2 ranks this hung: rank 0 in a
    collective solver destructor, rank 1 in a barrier), and the resumable folder is kept."""
    geo = ROOT / "meshes" / "slab.geo"
    (tmp_path / "dyn.toml").write_text(DYN_CASE.format(geo=geo, rho=0.01).replace(
        "output_every = 50", "output_every = 50\ncheckpoint_every = 20"))
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER))
    p = launch(["driver.py", "run", "dyn.toml", "-o", "res", "-q"], ranks, tmp_path)
    try:
        text, _ = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("the run hung after a failed checkpoint write")
    assert p.returncode == 1, text
    assert text.count("the checkpoint could not be written") == 1, text
    assert "No space left on device" in text and "MPI_Abort" not in text, text
    assert (tmp_path / ".res.partial-resumable").is_dir(), text  # what the next run goes on from
    assert not (tmp_path / "res").exists()


@pytest.mark.mpi
def test_a_result_that_does_not_fit_is_refused_before_writing(comm_tmp, capfd, monkeypatch):
    """Issue 22.11: a disk without room for the result: one line naming the folder, the bytes
    needed and free, exit 2, nothing written and the previous result intact."""
    import fem_spin.app.results as results

    case = write_case(comm_tmp, SMALL.format(dim=1, png="false"))
    out = comm_tmp / "res"
    from mpi4py import MPI

    assert run("run", case, "-o", out, "-q") == 0
    before = (out / "profile.csv").read_text() if MPI.COMM_WORLD.rank == 0 else None
    capfd.readouterr()

    class Usage:
        free = 1000  # bytes

    monkeypatch.setattr(results.shutil, "disk_usage", lambda path: Usage)
    assert run("run", case, "-o", out, "--overwrite", "-q") == 2
    err = capfd.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        assert "the result needs about" in err and "MB free: nothing written" in err and str(out) in err, err
        assert err.count("fem-spin: error") == 1
        assert (out / "profile.csv").read_text() == before
        assert sorted(p.name for p in comm_tmp.iterdir()) == ["case.toml", "res"]


TOUCHING = """
Point(1) = {0, 0, 0, 1}; Point(2) = {0, 2, 0, 1}; Point(3) = {0, 4, 0, 1};
Point(4) = {10, 4, 0, 1}; Point(5) = {10, 0, 0, 1};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 5}; Line(5) = {5, 1};
Curve Loop(1) = {1, 2, 3, 4, 5}; Plane Surface(1) = {1};
Physical Surface("film", 1) = {1};
Physical Curve("ground", 1) = {1};
Physical Curve("tip", 2) = {2};
"""
OVERLAPPING = """
Point(1) = {{0, 0, 0, 1}}; Point(2) = {{10, 0, 0, 1}}; Point(3) = {{20, 0, 0, 1}};
Line(1) = {{1, 2}}; Line(2) = {{2, 3}};
Physical Curve("left", 1) = {{{left}}};
Physical Curve("right", 2) = {{2}};
Physical Point("a", 1) = {{1}};
Physical Point("b", 2) = {{3}};
Physical Point("c", 3) = {{{c}}};
"""
DEVICE = """
[geometry]
kind = "gmsh"
file = "{geo}"
[material]
a0 = 0.0
omega0_per_s = 0.0
{extra}
"""


@pytest.mark.mpi
def test_contacts_that_share_nodes_are_refused(comm_tmp, capfd):
    """Issue 23.3: a floating tip touching the ground gave 5e-6 A in and -2.985e-6 A out with
    exit 0; now exit 2 naming both contacts, nothing written."""
    from mpi4py import MPI

    geo = comm_tmp / "touch.geo"
    if MPI.COMM_WORLD.rank == 0:
        geo.write_text(TOUCHING)
    extra = """P = 0.0
sigma_S_per_m = 1e7
[current]
drive = "solved"
[regions.film]
magnet = false
[boundaries.ground]
potential_V = 0.0
[boundaries.tip]
current_A_per_m = 1e-6
"""
    case = write_case(comm_tmp, DEVICE.format(geo=geo, extra=extra))
    assert run("run", case, "-o", comm_tmp / "out") == 2
    err = capfd.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        assert "contacts [boundaries.ground] and [boundaries.tip] share 1 mesh node(s)" in err, err
    assert not (comm_tmp / "out").exists()


@pytest.mark.mpi
@pytest.mark.parametrize("left,c,words", [
    ("1, 2", "1", "[regions.left] and [regions.right] overlap"),
    ("1", "3", "[boundaries.b] and [boundaries.c] overlap"),
], ids=["regions", "boundaries"])
def test_overlapping_groups_are_refused(comm_tmp, capfd, left, c, words):
    """Issue 23.4: overlapping region groups gave 'RuntimeError: All cells are expected to be
    tagged once' (exit 1); overlapping boundary groups with conflicting values silently dropped
    one. Both: exit 2 naming the groups."""
    from mpi4py import MPI

    geo = comm_tmp / "overlap.geo"
    if MPI.COMM_WORLD.rank == 0:
        geo.write_text(OVERLAPPING.format(left=left, c=c))
    extra = """[regions.left]
magnet = false
[regions.right]
magnet = false
[boundaries.b]
type = "fixed"
m = [0, 0, 1]
[boundaries.c]
type = "fixed"
m = [0, 0, -1]
"""
    case = write_case(comm_tmp, DEVICE.format(geo=geo, extra=extra))
    assert run("run", case, "-o", comm_tmp / "out") == 2
    err = capfd.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        assert words in err, err
    assert not (comm_tmp / "out").exists()


@pytest.mark.serial
def test_a_second_dynamic_run_into_a_busy_folder_is_refused(tmp_path, capfd):
    """Issue 23.5: two dynamic runs into one folder shared .NAME.partial-resumable and destroyed
    each other (FileNotFoundError); the second now exits 2 ('in use') while the first, on 2
    ranks, finishes untouched."""
    geo = ROOT / "meshes" / "slab.geo"
    (tmp_path / "dyn.toml").write_text(DYN_CASE.format(geo=geo, rho=0.01).replace(
        "t_end_s = 1e-10", "t_end_s = 4e-10"))
    first = launch(["-m", "fem_spin.app.cli", "run", "dyn.toml", "-o", "res"], 2, tmp_path)
    lines = []
    for line in first.stdout:
        lines.append(line)
        if "step " in line:  # the first is stepping, its folder locked
            break
    assert run("run", tmp_path / "dyn.toml", "-o", tmp_path / "res") == 2
    err = capfd.readouterr().err
    assert "is in use by another run" in err, err
    rest, _ = first.communicate(timeout=300)
    text = "".join(lines) + rest
    assert first.returncode == 0, text
    assert (tmp_path / "res" / "dynamics.csv").is_file() and not (tmp_path / "res" / "run.lock").exists()
    assert not (tmp_path / ".res.partial-resumable").exists()
    # a lock left by a process that is gone is taken over: the next run goes on
    (tmp_path / ".res.partial-resumable").mkdir()
    (tmp_path / ".res.partial-resumable" / "run.lock").write_text('{"host": "%s", "pid": 999999999}'
                                                                  % __import__("socket").gethostname())
    assert run("run", tmp_path / "dyn.toml", "-o", tmp_path / "res", "--overwrite", "-q") == 0
    assert not (tmp_path / ".res.partial-resumable").exists()


@pytest.mark.mpi
def test_checkpoints_do_not_grow_with_the_steps(comm_tmp):
    """Issue 23.6: state.json carried the whole table (checkpoint I/O quadratic in the steps,
    memory growing per step): the table is streamed to dynamics.csv and the checkpoint holds a
    row count and the last row: a checkpoint after 300 steps is within 2x of one after 20 (the
    time series' entries, one per output, still grow)."""
    import json

    from mpi4py import MPI

    import fem_spin.physics.dynamics as dynamics

    geo = ROOT / "meshes" / "slab.geo"
    text = DYN_CASE.format(geo=geo, rho=0.01).replace("t_end_s = 1e-10", "t_end_s = 4e-10").replace(
        "output_every = 50", "output_every = 50\ncheckpoint_every = 0")
    case = write_case(comm_tmp, text)
    real = dynamics.run_dynamics
    sizes = {}
    for steps in (20, 300):
        dynamics.run_dynamics = lambda *a, **k: real(*a, **k, stop_after=steps)  # noqa: B023
        try:
            assert run("run", case, "-o", comm_tmp / f"r{steps}", "-q") == 143
        finally:
            dynamics.run_dynamics = real
        state = comm_tmp / f".r{steps}.partial-resumable" / "checkpoint" / "state.json"
        if MPI.COMM_WORLD.rank == 0:
            sizes[steps] = state.stat().st_size
            assert json.loads(state.read_text())["table"]["rows"] == steps + 1
            csv_rows = (comm_tmp / f".r{steps}.partial-resumable" / "dynamics.csv").read_text().splitlines()
            assert len(csv_rows) == steps + 2  # header, t = 0 and a row per step, on disk already
    if MPI.COMM_WORLD.rank == 0:
        assert sizes[300] < 2 * sizes[20], sizes  # before: 15x (a row per step)


@pytest.mark.mpi
@pytest.mark.parametrize("key,words", [
    ("current_A = 1e11", "current_A = 100000000000.0: '{geo}' is 1D, where a contact carries current_A_per_m2"),
    ("current_A_per_m2 = 1e11\ncurrent_A = 1.0", "give one of current_A, current_A_per_m2"),
], ids=["1D current_A", "two currents"])
def test_a_contact_current_carries_the_unit_of_its_dimension(comm_tmp, capfd, key, words):
    """Issue 23.7: a 1D `current_A` was labelled A but applied as A/m^2: now 1D takes
    current_A_per_m2, 2D current_A_per_m, 3D current_A, and any other is exit 2."""
    from mpi4py import MPI

    from test_current import DRIVEN, layers_geo

    geo = comm_tmp / "fn.geo"
    if MPI.COMM_WORLD.rank == 0:
        geo.write_text(layers_geo([-20.0, 0.0, 20.0], ["F", "N"], 1.0))
    text = DRIVEN.format(geo=geo, drive="solved", j="", left=key, right="potential_V = 0.0")
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
    err = capfd.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        assert words.format(geo=geo) in err, err
    assert not (comm_tmp / "out").exists()


def _dyn_text(**changes) -> str:
    text = DYN_CASE.format(geo=Path(__file__).resolve().parents[1] / "meshes" / "slab.geo", rho=0.01)
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("stage, words", [
    (False, "[regions.layer_right] alpha_G = 0.0: [dynamics] relax = true needs damping"),
    (True, "[dynamics.stages[1]] alpha_G = 0.0: relax stage 1 needs damping"),
])
def test_relaxation_without_damping_is_refused(comm_tmp, capfd, stage, words):
    """Relaxation descends at gamma/alpha_G: with alpha_G = 0 it used to report 'relaxed at step 1,
    the largest torque 0 T' (the torque read as alpha_G |v|/gamma) while |u x B| was 0.49 T
    (issue 40). Now exit 2 before meshing, naming the key: the free region's (inherited from [material]), or a relax stage's."""
    if stage:
        text = _dyn_text(**{"t_end_s = 1e-10\ndt_s = 1e-12\n": "dt_s = 1e-12\n"}) + \
            "[[dynamics.stages]]\nt_end_s = 1e-11\nrelax = true\nalpha_G = 0.0\n"
    else:
        text = _dyn_text(**{"alpha_G = 0.05": "alpha_G = 0.0", "[dynamics]\n": "[dynamics]\nrelax = true\n"})
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out", "-q") == 2
    assert words in capfd.readouterr().err


def test_a_failing_llg_solve_is_one_line(comm_tmp, capfd):
    """A_ex = 1e10 J/m: the step cannot be solved; the run says so in one line (exit 1), not a
    RuntimeError with a traceback from each rank (issue 40)."""
    text = _dyn_text(**{"A_ex_J_per_m = 1e-11": "A_ex_J_per_m = 1e10"})
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out", "-q") == 1
    err = capfd.readouterr().err
    assert "did not converge" in err and "Traceback" not in err and "RuntimeError" not in err, err


def test_a_changed_mesh_under_a_checkpoint_says_how_to_start_afresh(comm_tmp, capfd):
    """A run stopped after 7 steps, its .geo then edited (the case file unchanged): going on is
    refused (exit 2) with the kept folder named and --overwrite offered, and --overwrite then
    runs (issue 40: the message named only the two cell counts, every time)."""
    geo = comm_tmp / "slab.geo"
    source = (Path(__file__).resolve().parents[1] / "meshes" / "slab.geo").read_text()
    assert "d = {5 * h_interface" in source
    if RANK == 0:
        geo.write_text(source)
    text = DYN_CASE.format(geo=geo, rho=0.01).replace("output_every = 50", "output_every = 50\ncheckpoint_every = 5")
    case = write_case(comm_tmp, text)
    assert run_stopped(case, comm_tmp / "out", 7) == 143
    capfd.readouterr()
    if RANK == 0:
        geo.write_text(source.replace("d = {5 * h_interface", "d = {9 * h_interface"))
    assert run("run", case, "-o", comm_tmp / "out", "-q") == 2
    err = capfd.readouterr().err
    if RANK == 0:
        assert "partial-resumable" in err and "--overwrite starts afresh" in err, err
    code = run("run", case, "-o", comm_tmp / "out", "-q", "--overwrite")
    assert code == 0, capfd.readouterr().err
