"""Defects found by using the CLI as a newcomer would (issue 9): each bad input gets one line,
exit code 2 and nothing written; interrupted runs leave nothing behind; outputs say their units."""

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.app import cli
from test_cli import SMALL, profile, run, write_case

COMM = MPI.COMM_WORLD
RANK = COMM.rank


def one_error_line(err: str) -> str:
    """The single `fem-spin: error:` line (rank 0 prints it; other ranks print nothing)."""
    lines = [ln for ln in err.splitlines() if ln.startswith("fem-spin: error")]
    assert len(lines) == (1 if RANK == 0 else 0), err
    assert "Traceback" not in err
    return lines[0] if lines else ""


def test_tests_ignore_the_working_folder(comm_tmp, capfd):
    """`make demo` leaves results/ in the working folder; a sweep without -o must still report
    the bad key first (it used to say "output folder 'results' exists")."""
    assert Path.cwd() == comm_tmp
    (comm_tmp / "results").mkdir()
    case = write_case(comm_tmp)
    assert run("sweep", case, "--param", "magnetization.theta=1,2") == 2
    assert "did you mean 'theta_deg'" in capfd.readouterr().err


@pytest.fixture
def slab_msh(comm_tmp):
    """A 2D slab mesh of the SMALL case (L = 20 nm, width 1 nm)."""
    case = write_case(comm_tmp, dim=2, name="mesh_case.toml")
    assert run("mesh", case, "-o", comm_tmp / "slab.msh", "-q") == 0
    return comm_tmp / "slab.msh"


MISMATCH = [  # (replacements in SMALL with mesh_file = slab.msh, words of the message)
    ({"dim = 2": "dim = 2", "length_nm = 20.0": "length_nm = 40.0"},
     ["spans x in [-10, 10]", "[-20, 20]", "length_nm = 40.0"]),
    ({"dim = 2": "dim = 3"}, ["the mesh is 2D but geometry.dim = 3"]),
    ({'kind = "slab"': 'kind = "ring"', "theta_deg = 90.0\n": ""},
     ["missing physical group(s) side_0", "for a ring", "layer_left"]),
]


@pytest.mark.mpi
@pytest.mark.parametrize("changes,words", MISMATCH)
def test_mesh_file_that_does_not_match_the_case(comm_tmp, capfd, slab_msh, changes, words):
    text = SMALL.format(dim=2, png="false").replace('kind = "slab"', 'kind = "slab"\nmesh_file = "slab.msh"')
    for a, b in changes.items():
        text = text.replace(a, b)
    case = write_case(comm_tmp, text)
    capfd.readouterr()
    assert run("run", case, "-o", comm_tmp / "out") == 2
    line = one_error_line(capfd.readouterr().err)
    for w in words if RANK == 0 else []:
        assert w in line, (w, line)
    assert not (comm_tmp / "out").exists()


@pytest.mark.mpi
@pytest.mark.parametrize("content,words", [
    ("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Entities\n1 2\n", ["cannot be read by Gmsh"]),
    ("hello, I am a text file\n", ["cannot be read by Gmsh"]),
    (None, ["no physical groups", "Physical Volume/Surface/Curve"]),
])
def test_corrupt_or_foreign_mesh_file(comm_tmp, capfd, content, words):
    bad = comm_tmp / "bad.msh"
    if RANK == 0 and content is not None:
        bad.write_text(content)
    elif RANK == 0:  # a valid mesh without physical groups
        import gmsh

        gmsh.initialize(interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.addLine(gmsh.model.occ.addPoint(0, 0, 0), gmsh.model.occ.addPoint(1, 0, 0))
        gmsh.model.occ.synchronize()
        gmsh.model.mesh.generate(1)
        gmsh.write(str(bad))
        gmsh.finalize()
    text = SMALL.format(dim=1, png="false").replace('kind = "slab"', 'kind = "slab"\nmesh_file = "bad.msh"')
    case = write_case(comm_tmp, text)
    assert run("run", case, "-o", comm_tmp / "out") == 2
    line = one_error_line(capfd.readouterr().err)
    for w in (["bad.msh", *words] if RANK == 0 else []):
        assert w in line, (w, line)
    assert not (comm_tmp / "out").exists()


def test_no_nan_is_ever_written(comm_tmp, capfd, monkeypatch):
    import fem_spin.app.runner as runner

    real = runner.sample

    def half_off_mesh(u, pts):
        vals = real(u, pts)
        if vals is not None:
            vals[: len(vals) // 2] = np.nan
        return vals

    monkeypatch.setattr(runner, "sample", half_off_mesh)
    assert run("run", write_case(comm_tmp), "-o", comm_tmp / "out") == 1
    assert "outside the mesh" in capfd.readouterr().err
    assert not (comm_tmp / "out").exists() and not list(comm_tmp.glob(".out.partial*"))


@pytest.mark.serial
def test_sweep_product_and_vector_values(comm_tmp, capfd):
    case = write_case(comm_tmp)
    out = comm_tmp / "sw"
    assert run("sweep", case, "--param", "magnetization.theta_deg=0,90",
               "--param", "magnetization.u_left=[0,0,1],[0,1,0]", "-o", out) == 0
    err = capfd.readouterr().err
    assert "sweep: 4 runs" in err and ".partial" not in err, err
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == ["theta_deg=0,u_left=[0,0,1]", "theta_deg=0,u_left=[0,1,0]",
                     "theta_deg=90,u_left=[0,0,1]", "theta_deg=90,u_left=[0,1,0]"]
    # u_left = y turned by 90 degrees about x is -z: the right end holds m = +u_R = -z
    assert np.allclose(profile(out / "theta_deg=90,u_left=[0,1,0]")[-1, 1:], [0, 0, -1], atol=1e-12)
    saved = (out / names[0] / "case.toml").read_text()
    assert f'folder = "{out / names[0]}"' in saved
    assert run("sweep", case, "--param", "magnetization.theta_deg=0", "--param",
               "magnetization.theta_deg=90", "-o", comm_tmp / "sw2") == 2
    assert "given twice" in capfd.readouterr().err


@pytest.mark.serial
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_write_keeps_previous_result(comm_tmp, capfd, monkeypatch, sig, code):
    """SLURM sends SIGTERM at the time limit: clean exit, no partial folder, old result intact."""
    import fem_spin.app.results as runner

    case = write_case(comm_tmp)
    out = comm_tmp / "res"
    assert run("run", case, "-o", out, "-q") == 0
    before = (out / "profile.csv").read_text()
    real = runner.write_profile_csv

    def killed(*a, **k):
        real(*a, **k)
        os.kill(os.getpid(), sig)

    monkeypatch.setattr(runner, "write_profile_csv", killed)
    assert run("run", case, "-o", out, "--overwrite", "-q") == code
    assert "no partial results left" in capfd.readouterr().err
    assert (out / "profile.csv").read_text() == before
    assert sorted(p.name for p in comm_tmp.iterdir()) == ["case.toml", "res"]
    assert signal.getsignal(signal.SIGTERM) is not None  # the CLI's handler is removed again


def test_stale_partial_folders_are_reported(comm_tmp, capfd):
    if RANK == 0:
        (comm_tmp / ".res.partial-deadbeef").mkdir()
        (comm_tmp / ".res.partial-deadbeef" / "fields.bp").write_bytes(b"x" * 1000)
    MPI.COMM_WORLD.Barrier()
    assert run("run", write_case(comm_tmp), "-o", comm_tmp / "res") == 0
    err = capfd.readouterr().err
    if RANK == 0:
        assert "1 unfinished result folder(s)" in err and ".res.partial-deadbeef" in err


def test_resolution_limit_printed_passes(comm_tmp, capfd):
    from fem_spin.io.case import resolve_case
    from fem_spin.app.build import material_from
    from fem_spin.app.preflight import check_resolution

    text = SMALL.format(dim=1, png="false").replace("h_interface_nm = 0.3", "h_interface_nm = 1.0")
    text = text.replace("h_far_nm = 0.6", "h_far_nm = 1.0").replace("width_nm = 0.6", "width_nm = 5.0")
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
    line = one_error_line(capfd.readouterr().err)
    if RANK == 0:
        assert "1/|k| (transverse decay) = 0.99995 nm; use h_interface_nm <= 0.999" in line, line
    for a0, h in ((100.0, 0.999), (1e6, 0.00999)):  # the printed limits pass
        case = resolve_case({"geometry": {"kind": "slab", "h_interface_nm": h, "h_far_nm": 1.0},
                             "material": {"a0": a0}, "magnetization": {"width_nm": 5.0}})
        assert "too coarse" not in (check_resolution(case, material_from(case)) or "")


IGNORED = [
    ('[geometry]\nkind = "ring"\ndim = 2\n[magnetization]\ntheta_deg = 45.0\n',
     ["theta_deg = 45.0", "does not apply to a ring"]),
    ('[geometry]\nkind = "ring"\ndim = 2\n[magnetization]\nu_left = [0, 1, 0]\n',
     ["u_left", "does not apply to a ring"]),
    ('[geometry]\nkind = "ring"\ndim = 2\n[magnetization]\nprofile = "wall"\n',
     ["profile = 'wall'", "slab only"]),
    ('[geometry]\nkind = "slab"\n[magnetization]\ndip = true\n', ["dip = True", "profile = 'wall' only"]),
    ('[geometry]\nkind = "slab"\n[material]\nomega0_per_s = -1e13\n',
     ["omega0_per_s = -10000000000000.0", "must be >= 0", "reverse the magnetization"]),
]


@pytest.mark.parametrize("text,words", IGNORED)
def test_settings_that_would_be_ignored_are_refused(comm_tmp, capfd, text, words):
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
    line = one_error_line(capfd.readouterr().err)
    for w in words if RANK == 0 else []:
        assert w in line, (w, line)
    assert not (comm_tmp / "out").exists()


def test_non_unit_direction_warns(comm_tmp, capfd):
    text = SMALL.format(dim=1, png="false").replace("width_nm = 0.6", "width_nm = 0.6\nu_left = [0, 0, 2]")
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 0
    if RANK == 0:
        assert "u_left = [0.0, 0.0, 2.0] has length 2: used as the unit vector [0.0, 0.0, 1.0]" in \
            capfd.readouterr().err


@pytest.mark.serial
def test_unwritable_output_found_before_meshing(comm_tmp, capfd, monkeypatch):
    target = Path("/sys/kernel/fem_spin_out")
    if os.access("/sys/kernel", os.W_OK) and os.geteuid() != 0:
        pytest.skip("needs a folder that os.access calls writable but is not")
    import fem_spin.app.runner as runner

    monkeypatch.setattr(runner, "build_domain", lambda *a, **k: pytest.fail("meshed"))
    assert run("run", write_case(comm_tmp), "-o", target) == 2
    assert "is not writable" in one_error_line(capfd.readouterr().err)


@pytest.mark.mpi
def test_outputs_say_their_units_and_quiet_is_quiet(comm_tmp, capfd, slab_msh):
    text = SMALL.format(dim=2, png="false").replace('kind = "slab"', 'kind = "slab"\nmesh_file = "slab.msh"')
    case = write_case(comm_tmp, text)
    capfd.readouterr()
    assert run("run", case, "-o", comm_tmp / "out", "-q") == 0
    captured = capfd.readouterr()
    assert captured.err == "" and "Info" not in captured.out  # Gmsh's reader is silent too
    if RANK == 0:
        s = json.loads((comm_tmp / "out" / "summary.json").read_text())
        assert "[spin, space]" not in s["units"]["J"] and "k the spin component" in s["units"]["J"]
        assert "1/s" in s["units"]["T"] and "nm" in s["units"]["length"]
        assert s["transverse_decay_length_nm"] == pytest.approx(100.0, rel=1e-3)
        assert s["transverse_wavelength_nm"] == pytest.approx(2 * np.pi, rel=1e-3)
        assert s["transverse_resolution_length_nm"] == pytest.approx(0.99995, rel=1e-4)
        assert "k*3 + j" in (comm_tmp / "out" / "README.txt").read_text()


@pytest.mark.serial
def test_plot_draws_what_run_draws(comm_tmp):
    case = write_case(comm_tmp, png="true")
    assert run("run", case, "-o", comm_tmp / "a", "-q") == 0
    made = sorted(p.name for p in (comm_tmp / "a").glob("*.png"))
    for p in (comm_tmp / "a").glob("*.png"):
        p.unlink()
    assert cli.main(["plot", str(comm_tmp / "a"), "-q"]) == 0
    assert sorted(p.name for p in (comm_tmp / "a").glob("*.png")) == made == ["profile.png"]


@pytest.mark.serial
def test_a_bad_file_does_not_break_the_next_one(comm_tmp):
    """Gmsh's lexer keeps the rest of a file with a syntax error and parses it with the next
    file; fem_spin flushes it, so a good .geo read after a bad one still reads."""
    from pathlib import Path

    from fem_spin.geometry.mesh import MeshFileError, inspect_mesh_file

    bad = comm_tmp / "bad.msh"
    bad.write_text("hello, I am a text file\n")
    with pytest.raises(MeshFileError, match="cannot be read by Gmsh"):
        inspect_mesh_file(bad)
    info = inspect_mesh_file(Path(__file__).resolve().parents[1] / "meshes" / "slab.geo")
    assert info.groups


@pytest.mark.mpi
@pytest.mark.parametrize("checkpoint", [True, False])
def test_a_kept_resumable_folder_says_whether_it_can_go_on(comm_tmp, capfd, checkpoint):
    """A dynamic run's folder is kept whatever stops it; the warning says the same command goes
    on from it only where a checkpoint is there (an input error in the dynamics' set-up leaves
    none: the next run starts afresh, and said so)."""
    from fem_spin.io.output import atomic_dir
    from fem_spin.progress import configure_logging

    configure_logging()
    with pytest.raises(RuntimeError):
        with atomic_dir(comm_tmp / "res", COMM, resumable=True) as tmp:
            if COMM.rank == 0:
                (tmp / "case.resume.json").write_text("{}")
                if checkpoint:
                    (tmp / "checkpoint").mkdir()
            COMM.barrier()
            raise RuntimeError("stopped")
    err = capfd.readouterr().err
    if COMM.rank == 0:
        assert ("goes on from it" in err) == checkpoint, err
        assert ("starts afresh" in err) == (not checkpoint), err
    assert (comm_tmp / ".res.partial-resumable").is_dir()
