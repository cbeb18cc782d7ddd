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

# ... or the container (docker/Dockerfile, checked by docker/verify.sh), with Apptainer/Singularity.
# The image's MPICH talks to SLURM through PMI: `srun --mpi=pmi2` (or run mpirun inside one node).
#   docker build -f docker/Dockerfile -t fem-spin . && docker save fem-spin -o fem-spin.tar
#   apptainer build fem-spin.sif docker-archive://fem-spin.tar
#   srun --mpi=pmi2 apptainer exec fem-spin.sif fem-spin run case.toml --output "results/$SLURM_JOB_ID"
