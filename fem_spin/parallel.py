"""Checks that run on rank 0 and stop every rank together."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from mpi4py import MPI

from fem_spin.io.case import InputError

T = TypeVar("T")


class Terminated(KeyboardInterrupt):
    """SIGTERM (what SLURM and `kill` send): handled like Ctrl-C, so the temporary result folder
    is removed and an earlier result stays in place; `note` says what was kept instead (a
    dynamic run's checkpoint)."""

    def __init__(self, note: str = ""):
        super().__init__(note)
        self.note = note


def on_sigterm(handler) -> object:
    """Install `handler` for SIGTERM; returns the previous handler to restore with
    `restore_sigterm`, or None off the main thread (where Python cannot set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def restore_sigterm(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


class SharedFailure(RuntimeError):
    """A failure of rank 0's work (a write that failed, say) raised on every rank together, so
    that collective clean-up (solver destructors, MPI-IO) cannot hang: exit code 1, one message."""


def on_root(comm: MPI.Comm, fn: Callable[[], T], failures: tuple[type[BaseException], ...] = (),
            explain: Callable[[BaseException], str] | None = None) -> T:
    """Run fn on rank 0 and broadcast its result, or its error, to every rank.

    An `InputError` (or a missing file) on rank 0 is raised on every rank as InputError, so
    all ranks stop at the same point and the caller prints the message once (rank 0). One of
    `failures` is raised on every rank as SharedFailure (its message from `explain`, else the
    exception's type and text). Any other exception is raised on rank 0 alone and must be
    handled as a one-rank failure.
    """
    out: tuple[str, Any] = ("ok", None)
    if comm.rank == 0:
        try:
            out = ("ok", fn())
        except (InputError, FileNotFoundError) as exc:
            out = ("input", str(exc))
        except failures as exc:
            out = ("failed", explain(exc) if explain else f"{type(exc).__name__}: {exc}")
    kind, value = comm.bcast(out, root=0)
    if kind == "input":
        raise InputError(value)
    if kind == "failed":
        raise SharedFailure(value)
    return value


# What launchers tell each process it is one of N: Open MPI's mpirun, MPICH's hydra (PMI), PMIx
# launchers and SLURM's srun.
LAUNCHER_VARS = (("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "Open MPI's mpirun"),
                 ("PMIX_SIZE", "PMIX_RANK", "a PMIx launcher"),
                 ("PMI_SIZE", "PMI_RANK", "an MPICH (PMI) launcher"),
                 ("SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "srun"))


def launcher_mismatch(comm: MPI.Comm) -> tuple[str, bool] | None:
    """(message, whether this process should print it) when a launcher started several
    processes but MPI sees one rank in each: the launcher is not the one of the MPI library
    that mpi4py was built with (e.g. Debian's Open MPI mpirun, which `apt-get install paraview`
    brings, with the wheel's MPICH), so every process would run the whole case alone."""
    if comm.size != 1:
        return None
    for size_var, rank_var, who in LAUNCHER_VARS:
        try:
            n = int(os.environ.get(size_var, "1"))
        except ValueError:
            continue
        if n > 1:
            lib = " ".join(MPI.Get_library_version().splitlines()[0].split())
            first = os.environ.get(rank_var, "0") in ("0", "")
            return (f"started as one of {n} processes by {who} ({size_var} = {n}) but MPI sees 1 rank "
                    f"in each: that launcher does not match fem_spin's MPI library ({lib}); use the "
                    "mpirun that comes with it (the virtual environment's: `source .venv/bin/activate`, "
                    "or .venv/bin/mpirun)", first)
    return None


# What sets a BLAS thread count: a user's choice, left alone.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _numpy_openblas():
    """(set, get) of numpy's bundled OpenBLAS thread count (the PyPI wheels'), or None."""
    import ctypes
    import glob

    import numpy

    folder = os.path.join(os.path.dirname(numpy.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)  # the copy numpy loaded (the same file)
        except OSError:
            continue
        for suffix in ("64_", ""):
            setter = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
            getter = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                return setter, getter
    return None


def one_blas_thread_per_rank(comm: MPI.Comm) -> bool:
    """With several ranks, numpy's OpenBLAS to one thread in each (True if set). It starts a
    thread per core in every rank, so n ranks on n cores run n^2 threads: FEM-BEM's boundary
    matrix took 56 s instead of 17 s to build on 2 ranks, its product 0.10 s instead of 0.065 s
    (docs/benchmark.md). A thread count the user set (OMP_NUM_THREADS, ...) is kept; a numpy
    without its own OpenBLAS (conda-forge's) follows those variables only."""
    if comm.size == 1 or any(v in os.environ for v in BLAS_THREAD_VARS):
        return False
    blas = _numpy_openblas()
    if blas is None:
        return False
    blas[0](1)
    return True
