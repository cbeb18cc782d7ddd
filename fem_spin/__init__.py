"""fem_spin: spin accumulation in ferromagnets with non-uniform magnetization.

Finite-element solver (DOLFINx/PETSc) for the generalized spin-diffusion equation
with the magnetization-dependent, non-symmetric tensor of Hitchon, Parker & Rebei.
"""

__version__ = "0.1.0"
