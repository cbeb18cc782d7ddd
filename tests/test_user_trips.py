"""What a user trips over (issue 22): held layers, what a result folder says it holds, one
name per quantity, bad input caught before any work."""

import tomllib

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.io.case import resolve_case
from test_cli import run, write_case
from test_dynamics import DYN_CASE, dyn_case

RANK = MPI.COMM_WORLD.rank


@pytest.mark.mpi
def test_a_held_layer_does_not_move_bit_for_bit():
    """dynamic = false: the layer's nodes (those it does not share with a moving magnet) keep u
    bit for bit, the electrons see its M unchanged bit for bit (also in its cells next to the
    free layer), and dynamics.csv's averages of it are its direction at every step (before:
    u_z 0.99851 -> 0.99717, the shared interface node moving with the free layer)."""
    from fem_spin.app.build import build_domain, llg_of, make_problem
    from fem_spin.app.preflight import check_device_file
    from fem_spin.physics.dynamics import Coupling, run_dynamics

    case = dyn_case()
    case["geometry"]["dim"] = MPI.COMM_WORLD.bcast(check_device_file(case) if RANK == 0 else None, root=0)
    problem = make_problem(case, build_domain(case, MPI.COMM_WORLD))
    llg = llg_of(case, problem)
    dom = problem.domain
    held_cells = dom.cell_tags.find(dom.cells["layer_left"])
    free_cells = dom.cell_tags.find(dom.cells["layer_right"])
    V = llg.U
    # the layer's nodes that no free cell touches (llg.moving knows the other ranks' cells too)
    held_nodes = np.unique(V.dofmap.list[held_cells].reshape(-1))
    held_nodes = held_nodes[~llg.moving[held_nodes]]
    assert MPI.COMM_WORLD.allreduce(len(held_nodes)) > 20
    assert not np.intersect1d(held_nodes, V.dofmap.list[free_cells].reshape(-1)).size
    u0 = llg.u.x.array.reshape(-1, 3)[held_nodes].copy()
    M = problem.coef.M
    M_dofs = np.unique(M.function_space.dofmap.list[held_cells].reshape(-1))
    M0 = M.x.array.reshape(-1, 3)[M_dofs].copy()
    coupling = Coupling(problem, llg, 0.01)
    try:
        rows = run_dynamics(coupling, 5e-11, 1e-12, regions=["layer_left", "layer_right"],
                            held=["layer_left"])
        assert np.array_equal(llg.u.x.array.reshape(-1, 3)[held_nodes], u0)
        assert np.array_equal(M.x.array.reshape(-1, 3)[M_dofs], M0)
        for r in rows:
            assert (r["u_x_layer_left"], r["u_y_layer_left"], r["u_z_layer_left"]) == (0.0, 0.0, 1.0)
        assert abs(rows[-1]["u_y_layer_right"] - 1.0) > 1e-3  # the free layer did move
    finally:
        coupling.destroy()
        llg.destroy()


def bad_input(comm_tmp, capfd, text) -> str:
    """Run a case that must be refused: exit 2, one line, nothing written; returns the line."""
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 2
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("fem-spin: error")]
    assert len(lines) == (1 if RANK == 0 else 0) and "Traceback" not in err, err
    assert not (comm_tmp / "out").exists()
    return lines[0] if lines else ""


def dyn_text(**replace) -> str:
    from pathlib import Path

    text = DYN_CASE.format(geo=Path(__file__).resolve().parents[1] / "meshes" / "slab.geo", rho=0.01)
    for a, b in replace.items():
        text = text.replace(a, b, 1)
    return text


@pytest.mark.mpi
@pytest.mark.parametrize("old,new,words", [
    # 22.9: a misspelt .geo constant was silently ignored (the run meshed with the default)
    ("h_interface = 0.3", "h_interfce = 0.3", ["parameters.h_interfce = 0.3", "defines no such constant",
                                               "h_interface"]),
    # 22.10: dt_s = 1e-25 s started a 1e16-step run
    ("dt_s = 1e-12", "dt_s = 1e-25", ["dt_s = 1e-25", "takes 1e+15 steps", "allow_long = true"]),
    # 23.7: [dynamics] with nothing dynamic was accepted
    ("[regions.layer_right]\nprofile", "[regions.layer_right]\ndynamic = false\nprofile",
     ["nothing moves", "every magnet is held"]),
    # 23.7: the exchange's 'reverse the magnetization' hint was appended to alpha_G's error
    ("alpha_G = 0.05", "alpha_G = -0.05", ["alpha_G = -0.05: must be >= 0"]),
], ids=["geo constant", "steps", "nothing dynamic", "alpha_G"])
def test_bad_dynamic_and_device_input(comm_tmp, capfd, old, new, words):
    line = bad_input(comm_tmp, capfd, dyn_text(**{old: new}))
    for w in words if RANK == 0 else []:
        assert w in line, (w, line)
    if RANK == 0:
        assert "reverse the magnetization" not in line or "omega0" in line


@pytest.mark.mpi
def test_a_long_run_says_how_long_it_will_take(comm_tmp, capfd):
    """Issue 19/22: the first progress line of a dynamic run gives the time per step and an
    estimate of the wall time to t_end."""
    assert run("run", write_case(comm_tmp, dyn_text()), "-o", comm_tmp / "out") == 0
    err = capfd.readouterr().err
    if RANK == 0:
        first = next(ln for ln in err.splitlines() if ln.strip().startswith("step 1,"))
        assert "s/step" in first and "to t_end" in first, first


@pytest.mark.mpi
def test_an_input_that_overflows_is_an_input_error(comm_tmp, capfd):
    """Issue 22.8: the fuzz test's overflow RuntimeWarning (coefficients in the solver's units
    going to inf) is now an input error naming the key, with no warning."""
    import warnings

    from test_cli import SMALL

    text = SMALL.format(dim=1, png="false") + "[material]\ntau_components_s = [5e-324, 1e-11, 1e-11]\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        line = bad_input(comm_tmp, capfd, text)
    if RANK == 0:
        assert "tau_components_s = [5e-324, 1e-11, 1e-11] is out of range" in line, line


@pytest.mark.mpi
@pytest.mark.parametrize("old,new,words", [
    ("K_u_J_per_m3 = 5e4", "K_u_J_per_m3 = 5e4\nK_axis = [0, 0, 0]",
     "[material] K_axis = [0.0, 0.0, 0.0]: must be a non-zero vector"),
    ("direction = [0.0, 1.0, 0.0]", "direction = [0, 0, 0]",
     "[regions.layer_right] direction = [0.0, 0.0, 0.0]: must be a non-zero vector"),
], ids=["K_axis", "region direction"])
def test_zero_vectors_name_the_key(comm_tmp, capfd, old, new, words):
    """Issue 22.11: a zero K_axis or a region's zero direction ended with 'ValueError: ...'
    from deep in the run; now one line naming the key, exit 2."""
    line = bad_input(comm_tmp, capfd, dyn_text(**{old: new}))
    if RANK == 0:
        assert words in line and "ValueError" not in line, line


def listed_files(readme: str) -> set[str]:
    """The top-level names a README.txt says its folder holds."""
    block = readme.split("Files:\n", 1)[1].split("\n\n", 1)[0]
    names = set()
    for line in block.splitlines():
        key = line.strip().split(": ", 1)[0]
        for part in key.split(", "):
            main, _, extra = part.partition(" (+ ")
            names.add(main.rstrip("/"))
            if extra:
                names.add(extra.rstrip(")").rstrip("/"))
    return names


@pytest.mark.mpi
@pytest.mark.parametrize("kind", ["steady", "device 3D", "solved drive", "dynamic"])
def test_readme_lists_exactly_the_files_written_and_one_name_per_quantity(comm_tmp, kind):
    """Issue 22.2: a dynamic folder's README.txt did not mention u_t.pvd, m_t.pvd, dynamics.csv
    or dynamics.png and listed potential.pvd, .bp files and checkpoint/ that were not there.
    Issue 22.3: with a drive, fields.pvd said m_A_per_m and m_t.pvd said m."""
    from pathlib import Path

    from test_cli import SMALL
    from test_current import DRIVEN, layers_geo

    root = Path(__file__).resolve().parents[1]
    if kind == "steady":
        text = SMALL.format(dim=2, png="true")
    elif kind == "device 3D":
        text = (f'[geometry]\nkind = "gmsh"\nfile = "{root / "meshes" / "spin_valve.geo"}"\n'
                'parameters = {h = 5.0, h_interface = 5.0}\n[material]\na0 = 1.0\nomega0_per_s = 1e11\n'
                '[regions.fixed]\nprofile = "uniform"\ndirection = [1, 0, 0]\n[regions.spacer]\nmagnet = false\n'
                '[regions.free]\nprofile = "uniform"\ndirection = [0, 1, 0]\n[boundaries.bottom]\ntype = "fixed"\n'
                'm = [-1, 0, 0]\n[boundaries.top]\ntype = "fixed"\nm = [0, 0, 0]\n[discretization]\ndegree = 1\n')
    elif kind == "solved drive":
        geo = comm_tmp / "fn.geo"
        if RANK == 0:
            geo.write_text(layers_geo([-50.0, 0.0, 100.0], ["F", "N"], 1.0))
        text = DRIVEN.format(geo=geo, drive="solved", j="", left="current_A_per_m2 = 1e11",
                             right="potential_V = 0.0").replace("png = false", "png = true")
    else:
        text = dyn_text(**{"png = false": "png = true", "[discretization]": "[current]\ndrive = \"uniform\"\n"
                                                                             "j_A_per_m2 = [1e11, 0, 0]\n"
                                                                             "[discretization]",
                           "alpha_G = 0.05": "alpha_G = 0.05\nP = 0.5",
                           "m = [0.0, 0.0, -1.0]": "m = [0.0, 0.0, 0.0]"})
    out = comm_tmp / "res"
    assert run("run", write_case(comm_tmp, text), "-o", out, "-q") == 0
    if RANK == 0:
        present = {p.name for p in out.iterdir()}
        assert listed_files((out / "README.txt").read_text()) | {"README.txt"} == present
        if kind == "dynamic":
            assert {"u_t.pvd", "m_t.pvd", "dynamics.csv", "dynamics.png"} <= present
            fields = (out / "fields" / "000000.pvtu").read_text()
            series = (out / "m_t" / sorted(p.name for p in (out / "m_t").glob("*.pvtu"))[-1]).read_text()
            for name in ("m_A_per_m", "T_A_per_m_s"):
                assert f'Name="{name}"' in fields and f'Name="{name}"' in series, name
            assert 'Name="m"' not in series


@pytest.mark.serial
@pytest.mark.parametrize("env", [{"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"},
                                 {"SLURM_STEP_NUM_TASKS": "4", "SLURM_PROCID": "0"}], ids=["openmpi", "srun"])
def test_a_launcher_of_another_mpi_is_named_in_one_line(tmp_path, env):
    """Issue 22.7: Debian's Open MPI mpirun (what `apt-get install paraview` brings) starting
    fem-spin built on the wheel's MPICH gave N independent 1-rank runs; simulated by its
    environment: exit 2, one line naming the launcher and the right one."""
    import os
    import subprocess
    import sys

    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_", "SLURM_"))}
    p = subprocess.run([sys.executable, "-m", "fem_spin.app.cli", "info"], cwd=tmp_path, capture_output=True,
                       text=True, env={**run_env, **env}, timeout=120)
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("fem-spin: error")]
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "does not match fem_spin's MPI library" in lines[0] and ".venv/bin/mpirun" in lines[0]
    assert "fem_spin" not in p.stdout  # nothing ran


@pytest.mark.serial
def test_a_device_file_gets_a_size_estimate_before_meshing(caplog):
    """Issue 23.7: a Gmsh device got no size estimate (a wire with h = 0.1 meshed for minutes
    with no warning): its preflight now logs an upper estimate of the cells from the finest
    size the script sets and warns when that would not fit in memory, before Gmsh meshes."""
    import logging
    from pathlib import Path

    from fem_spin.app.preflight import check_device_file

    root = Path(__file__).resolve().parents[1]
    text = (f'[geometry]\nkind = "gmsh"\nfile = "{root / "meshes" / "nanowire.geo"}"\n'
            'parameters = {{h = {h}, h_wall = {h}}}\n[regions.wire]\n')
    for h, warned in ((2.0, False), (0.1, True)):
        caplog.clear()
        case = resolve_case(tomllib.loads(text.format(h=h)))
        with caplog.at_level(logging.INFO, logger="fem_spin"):
            assert check_device_file(case) == 3
        estimate = [r.getMessage() for r in caplog.records if "cells at most" in r.getMessage()]
        assert estimate, caplog.text
        assert any("may mesh into up to" in r.getMessage() for r in caplog.records) == warned, caplog.text


def test_a_device_run_gives_its_mesh_size_once(comm_tmp, capfd):
    """`fem-spin run` of a .geo device says 'mesh: FILE: N cells at most' once (the CLI's early
    checks and run_case's both ran the preflight, and both said it; issue 41)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "demos" / "pt_co_bilayer.toml").read_text().replace(
        'file = "pt_co_strip.geo"', f'file = "{root / "demos" / "pt_co_strip.geo"}"').replace("h = 0.4", "h = 1.0")
    assert run("run", write_case(comm_tmp, text), "-o", comm_tmp / "out") == 0
    err = capfd.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        assert err.count("cells at most") == 1, err
