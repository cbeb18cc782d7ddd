"""Linear solvers: PETSc presets and the preconditioners PETSc cannot build from options."""
