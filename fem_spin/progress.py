"""Rank-0 logging and timed stages (mesh, assemble, solve, write)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from mpi4py import MPI

logger = logging.getLogger("fem_spin")


class RankFilter(logging.Filter):
    """Pass records from rank 0 only, so mpirun prints each line once."""

    def __init__(self, comm: MPI.Comm = MPI.COMM_WORLD, all_ranks: bool = False):
        super().__init__()
        self.rank = comm.rank
        self.all_ranks = all_ranks

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003
        record.rank = self.rank
        return self.all_ranks or self.rank == 0


def configure_logging(level: int = logging.INFO, all_ranks: bool = False) -> None:
    """Send fem_spin's log to stderr from rank 0 (or all ranks, tagged)."""
    handler = logging.StreamHandler()
    fmt = "[rank %(rank)d] %(message)s" if all_ranks else "%(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(RankFilter(all_ranks=all_ranks))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


@contextlib.contextmanager
def stage(name: str, comm: MPI.Comm, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Log the start and wall time of a stage; the time is the slowest rank's.

    `comm` is required: it must be the communicator of the work being timed, or the
    closing allreduce would wait for ranks that are not taking part.
    """
    logger.info("%-9s ...", name)
    t0 = time.perf_counter()
    yield
    dt = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + dt
    logger.info("%-9s done in %.2f s", name, dt)
