"""Import DOLFINx and PETSc in the order every channel needs.

The PyPI wheel ``dolfinx-solver-real`` must be imported before ``dolfinx`` or
``petsc4py`` (it orders MPI ahead of the compiled bindings). Conda-forge and the
official DOLFINx Docker image do not ship it, so it is optional here. Every
module of fem_spin imports DOLFINx through this one so the order holds.
"""

from __future__ import annotations

try:  # PyPI wheel; absent on conda-forge and in the DOLFINx Docker image
    import dolfinx_solver  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install channel
    dolfinx_solver = None

from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402,F401
import ufl  # noqa: E402

__all__ = ["MPI", "PETSc", "dolfinx", "ufl", "dolfinx_solver"]
