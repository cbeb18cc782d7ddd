"""How big a case is before it is meshed: DOFs and peak memory, against the machine's memory.

The memory model is measured, not derived (benchmarks/end_to_end.py, docs/benchmark.md): peak
resident memory summed over the ranks of whole `fem-spin run`s of the 3D slab, per DOF, for
each solver preset, plus a fixed part per rank (Python, DOLFINx, PETSc, MPI). It errs high:
a refused case that would have fitted costs a flag (geometry.allow_large), an accepted one
that does not fit costs a node swapping or killed after many minutes.
"""

from __future__ import annotations

import os
from pathlib import Path

# Lagrange nodes per cell of Gmsh's simplex meshes (measured on the slab and ring: a P2
# tetrahedral mesh has 1.42 nodes per cell, its vertices 0.17).
NODES_PER_CELL = {(1, 1): 1.0, (1, 2): 2.0, (2, 1): 0.5, (2, 2): 2.0, (3, 1): 0.17, (3, 2): 1.42}
# Bytes per DOF (all ranks together), by preset; direct solves grow faster than linearly in 3D
# (fill of the LU factors), modelled as c N^(4/3) bytes.
PER_RANK_BYTES = 300e6
BYTES_PER_DOF = {"iterative": 4.5e3, "blr": 14e3, "shifted": 4e3}
DIRECT_3D_COEFF = 260.0


def estimated_dofs(dim: int, degree: int, cells: float) -> float:
    return 3.0 * NODES_PER_CELL[(dim, degree)] * cells


def estimated_memory(dofs: float, dim: int, preset: str, ranks: int) -> float:
    """Peak resident bytes of a run, all ranks together."""
    if preset == "direct" and dim == 3:
        solver = DIRECT_3D_COEFF * dofs ** (4.0 / 3.0)
    else:
        solver = BYTES_PER_DOF.get(preset, BYTES_PER_DOF["blr"]) * dofs
    return ranks * PER_RANK_BYTES + solver


def machine_memory() -> float:
    """Bytes this node can give: physical memory, or a smaller cgroup limit (a Slurm job or a
    container with --memory sees its own limit there)."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return float(total)
