#!/bin/bash
# Example SLURM job: a 3D slab on 2 nodes x 32 ranks. Mesh once on a login node
# (`fem-spin mesh case.toml -o case.msh`, then set geometry.mesh_file = "case.msh")
# so compute nodes only read the mesh.
#SBATCH --job-name=fem-spin
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=32
#SBATCH --time=01:00:00
#SBATCH --output=fem-spin-%j.log

set -euo pipefail
# Either a virtual environment made by `make setup` (or conda) ...
source "$HOME/fem_spin/.venv/bin/activate"
export MPLBACKEND=Agg PYVISTA_OFF_SCREEN=true OMP_NUM_THREADS=1
srun fem-spin run case.toml --output "results/$SLURM_JOB_ID" -- -ksp_converged_reason

# ... or the container, with Apptainer/Singularity:
#   apptainer build fem-spin.sif docker-daemon://fem-spin:latest
#   srun apptainer exec fem-spin.sif fem-spin run case.toml --output "results/$SLURM_JOB_ID"
