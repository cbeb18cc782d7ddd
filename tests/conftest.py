"""MPI-safe pytest set-up (the same tests run under `mpirun -n 2`)."""

import gc
import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")

import fem_spin._backend  # noqa: E402,F401 - DOLFINx/PETSc in the right order
import pytest  # noqa: E402
from mpi4py import MPI  # noqa: E402


@pytest.fixture
def comm_tmp(tmp_path) -> Path:
    """One temporary folder shared by all ranks (rank 0's)."""
    return Path(MPI.COMM_WORLD.bcast(str(tmp_path), root=0))


@pytest.fixture(autouse=True)
def _isolated_cwd(comm_tmp, monkeypatch):
    """Run every test in its own empty folder: a user's working folder (a `results/` left by
    `make demo`, say) must never change a test's outcome, and tests never write into it."""
    monkeypatch.chdir(comm_tmp)


@pytest.fixture(autouse=True)
def _collect_together():
    """Run collective PETSc destructors on all ranks at the same point."""
    yield
    gc.collect()
    MPI.COMM_WORLD.Barrier()


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if MPI.COMM_WORLD.rank > 0:  # report from rank 0 only; failures still set the exit code
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            config.pluginmanager.unregister(reporter)
    config.addinivalue_line("markers", "mpi: also run under mpirun -n 2 by the test command")
    config.addinivalue_line("markers", "serial: meaningful on one rank only")


def pytest_collection_modifyitems(config, items):
    if MPI.COMM_WORLD.size > 1:
        skip = pytest.mark.skip(reason="serial-only test")
        for item in items:
            if "serial" in item.keywords:
                item.add_marker(skip)



def pytest_runtest_logreport(report):
    """Ranks > 0 have no terminal output: print their failures so they are not lost."""
    if MPI.COMM_WORLD.rank > 0 and report.failed:
        import sys

        print(f"\n[rank {MPI.COMM_WORLD.rank}] FAILED {report.nodeid}\n{report.longreprtext}",
              file=sys.stderr, flush=True)
