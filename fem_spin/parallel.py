"""Checks that run on rank 0 and stop every rank together."""

from __future__ import annotations

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
