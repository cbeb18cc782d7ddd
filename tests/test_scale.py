"""Scale: the memory guard before meshing, progress during the solve, the peak memory and bytes
written in summary.json, and the cheaper diffusion quadrature giving the same C2 answer."""

import json

import numpy as np
import pytest
from mpi4py import MPI

from fem_spin.app import sizing
from fem_spin.app.preflight import check_size
from fem_spin.io.case import CaseError, resolve_case
from fem_spin.physics.magnetization import Uniform
from fem_spin.physics.material import Material
from fem_spin.physics.problem import SpinProblem
from fem_spin.solvers.linear import LinearSolver

from helpers import uniform_1d_slab
from test_cli import run, write_case
from test_reliability import one_error_line

RANK = MPI.COMM_WORLD.rank
SLAB3D = """
[geometry]
kind = "slab"
dim = 3
length_nm = 100.0
width_nm = 10.0
h_interface_nm = {h}
h_far_nm = {h}
[magnetization]
profile = "interface"
theta_deg = 90.0
width_nm = 0.6
[discretization]
degree = 2
"""


def slab3d(h, **geometry):
    raw = {"geometry": {"kind": "slab", "dim": 3, "length_nm": 100.0, "width_nm": 10.0,
                        "h_interface_nm": h, "h_far_nm": h, **geometry},
           "discretization": {"degree": 2}}
    return resolve_case(raw)


@pytest.mark.mpi
def test_memory_guard_refuses_before_meshing(comm_tmp, capfd, monkeypatch):
    """h = 0.1 nm on the 100 x 10 x 10 nm slab is ~2e8 DOFs (~1 TB): exit 2 naming the
    estimate and this machine's memory, before Gmsh starts."""
    import fem_spin.app.runner as runner

    monkeypatch.setattr(runner, "build_domain", lambda *a, **k: pytest.fail("meshed"))
    case = write_case(comm_tmp, SLAB3D.format(h=0.1))
    capfd.readouterr()
    assert run("run", case, "-o", comm_tmp / "out") == 2
    line = one_error_line(capfd.readouterr().err)
    if RANK == 0:
        for w in ("h_interface_nm = 0.1", "DOFs", "GB with solver 'iterative'", "this node",
                  f"it has {sizing.machine_memory() / 1e9:.3g} GB", "allow_large"):
            assert w in line, (w, line)
    assert not (comm_tmp / "out").exists()


def test_memory_estimate_scales_with_the_case(monkeypatch):
    """The estimate is per DOF and preset (the 2.66M-DOF slab at h = 0.4 nm measured 9.4 GB
    peak on 2 ranks with 'iterative'; the model says more), and the machine's memory decides."""
    cells = check_size(slab3d(0.4), ranks=2)
    dofs = sizing.estimated_dofs(3, 2, cells)
    assert 2.3e6 < dofs < 3.1e6  # 2,661,684 when meshed
    need = sizing.estimated_memory(dofs, 3, "iterative", 2)
    assert 9e9 < need < 16e9
    monkeypatch.setattr(sizing, "machine_memory", lambda: need * 0.9)
    with pytest.raises(CaseError, match="allow_large"):
        check_size(slab3d(0.4), ranks=2)
    assert check_size(slab3d(0.4, allow_large=True), ranks=2) == cells
    monkeypatch.setattr(sizing, "machine_memory", lambda: need * 1.1)
    assert check_size(slab3d(0.4), ranks=2) == cells
    # half the ranks on this node (two nodes): half the memory here
    monkeypatch.setattr(sizing, "machine_memory", lambda: need * 0.6)
    assert check_size(slab3d(0.4), ranks=2, ranks_on_node=1) == cells


@pytest.mark.mpi
def test_progress_lines_and_resources_in_summary(comm_tmp, capfd, monkeypatch):
    monkeypatch.setattr(LinearSolver, "PROGRESS_INTERVAL", -1.0)  # a line at every iteration
    case = write_case(comm_tmp, SLAB3D.format(h=2.0).replace(
        "[geometry]", "[geometry]\nlength_nm = 20.0\nallow_coarse = true", 1).replace(
        "length_nm = 100.0\n", "") + '[solver]\npreset = "iterative"\n')
    assert run("run", case, "-o", comm_tmp / "out") == 0
    err = capfd.readouterr().err
    if RANK == 0:
        its = [ln for ln in err.splitlines() if "solve: iteration" in ln]
        assert len(its) >= 3 and "residual" in its[0] and "of the initial" in its[0], err
        s = json.loads((comm_tmp / "out" / "summary.json").read_text())
        assert s["peak_memory_mb"]["all_ranks"] >= s["peak_memory_mb"]["largest_rank"] > 50
        files = [f for f in (comm_tmp / "out").rglob("*") if f.is_file() and f.name != "summary.json"]
        assert s["bytes_written"] >= sum(f.stat().st_size for f in files)
        assert "peak memory" in err and "wrote" in err


@pytest.mark.mpi
def test_c2_same_with_the_cheaper_diffusion_quadrature():
    """Uniform M: the diffusion tensor is constant, degree 3 integrates it exactly, so the
    default (reaction 5, diffusion 3) gives the answer of degree 5 everywhere to round-off."""
    answers = []
    for q in (None, 5):
        p = SpinProblem(domain=uniform_1d_slab(100.0, 0.25), material=Material.paper(),
                        magnetization=Uniform(), degree=2, quadrature_degree=q,
                        dirichlet={"left_end": [1, 0, 0], "right_end": [0, 1, 0]})
        answers.append(p.solve().x.array.copy())
        assert p.form.diffusion_quadrature_degree == (3 if q is None else 5)
    assert np.max(np.abs(answers[0] - answers[1])) < 1e-10


SMALL3D = SLAB3D.format(h=1.0).replace("length_nm = 100.0", "length_nm = 20.0").replace(
    "width_nm = 10.0", "width_nm = 2.0").replace("[geometry]", "[geometry]\nallow_coarse = true", 1)


@pytest.mark.mpi
def test_parallel_mesh_file_gives_the_meshed_answer(comm_tmp, capfd):
    """`fem-spin mesh -o slab.xdmf` (written by every rank) read back in parallel by `run`
    gives the answer of meshing the case, on 1 and 2 ranks; a file without its companions is
    an input error naming them."""
    case = write_case(comm_tmp, SMALL3D)
    assert run("mesh", case, "-o", comm_tmp / "m" / "slab.xdmf") == 0
    if RANK == 0:
        assert sorted(p.name for p in (comm_tmp / "m").iterdir()) == \
            ["slab.h5", "slab.names.json", "slab.xdmf"]
    from_file = write_case(comm_tmp, SMALL3D.replace(
        "allow_coarse = true", f'allow_coarse = true\nmesh_file = "{comm_tmp / "m" / "slab.xdmf"}"'),
        name="from_file.toml")
    assert run("run", case, "-o", comm_tmp / "meshed", "-q") == 0
    assert run("run", from_file, "-o", comm_tmp / "read", "-q") == 0
    if RANK == 0:
        a = np.loadtxt(comm_tmp / "meshed" / "profile.csv", delimiter=",", skiprows=1)
        b = np.loadtxt(comm_tmp / "read" / "profile.csv", delimiter=",", skiprows=1)
        assert np.max(np.abs(a - b)) < 1e-10 and np.max(np.abs(a[:, 1])) > 0.1
        (comm_tmp / "m" / "slab.names.json").unlink()
    MPI.COMM_WORLD.Barrier()
    capfd.readouterr()
    assert run("run", from_file, "-o", comm_tmp / "again") == 2
    line = one_error_line(capfd.readouterr().err)
    if RANK == 0:
        assert "slab.names.json" in line and "fem-spin mesh" in line, line


@pytest.mark.mpi
def test_checkpoint_round_trip_is_exact_across_partitions(comm_tmp):
    """Written on all ranks, read on one (another partition), written again: the same bytes;
    read back on all ranks: the same values bit for bit."""
    from fem_spin._backend import dolfinx
    from fem_spin.io.checkpoint import read_checkpoint, write_checkpoint

    def space(comm):
        mesh = dolfinx.mesh.create_unit_cube(comm, 3, 2, 2)
        return dolfinx.fem.functionspace(mesh, ("Lagrange", 2, (3,)))

    u = dolfinx.fem.Function(space(MPI.COMM_WORLD))
    u.interpolate(lambda x: np.stack([np.sin(3 * x[0]), x[1] * x[2], np.exp(x[0])]))
    u.x.scatter_forward()  # ghosts = owners' values (interpolation on two cells differs in round-off)
    write_checkpoint(comm_tmp / "a", {"m": u})
    if RANK == 0:
        w = dolfinx.fem.Function(space(MPI.COMM_SELF))
        read_checkpoint(comm_tmp / "a", {"m": w})
        write_checkpoint(comm_tmp / "b", {"m": w})
        assert (comm_tmp / "a" / "m.bin").read_bytes() == (comm_tmp / "b" / "m.bin").read_bytes()
    MPI.COMM_WORLD.Barrier()
    v = dolfinx.fem.Function(u.function_space)
    read_checkpoint(comm_tmp / "b", {"m": v})
    assert np.array_equal(v.x.array, u.x.array)


@pytest.mark.mpi
def test_checkpoint_as_initial_guess(comm_tmp, capfd):
    """A run started from its own checkpoint needs no iteration and gives the same answer; a
    checkpoint of another mesh is refused with exit 2."""
    text = SMALL3D + '[solver]\npreset = "iterative"\n[output]\ncheckpoint = true\n'
    case = write_case(comm_tmp, text)
    assert run("run", case, "-o", comm_tmp / "first", "-q") == 0
    again = write_case(comm_tmp, text.replace('preset = "iterative"', 'preset = "iterative"\n'
                                              f'initial_guess = "{comm_tmp / "first"}"'), name="again.toml")
    assert run("run", again, "-o", comm_tmp / "second", "-q") == 0
    if RANK == 0:
        s1 = json.loads((comm_tmp / "first" / "summary.json").read_text())
        s2 = json.loads((comm_tmp / "second" / "summary.json").read_text())
        assert s1["iterations"] > 5 and s2["iterations"] == 0, (s1["iterations"], s2["iterations"])
        a = np.loadtxt(comm_tmp / "first" / "profile.csv", delimiter=",", skiprows=1)
        b = np.loadtxt(comm_tmp / "second" / "profile.csv", delimiter=",", skiprows=1)
        assert np.max(np.abs(a - b)) < 1e-12
    other = write_case(comm_tmp, text.replace("h_far_nm = 1.0", "h_far_nm = 1.3").replace(
        'preset = "iterative"', f'preset = "iterative"\ninitial_guess = "{comm_tmp / "first"}"'),
        name="other.toml")
    capfd.readouterr()
    assert run("run", other, "-o", comm_tmp / "third") == 2
    line = one_error_line(capfd.readouterr().err)
    if RANK == 0:
        assert "checkpoint" in line and "mesh" in line, line
