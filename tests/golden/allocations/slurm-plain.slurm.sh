#!/bin/bash
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --time=00:30:00
#SBATCH --job-name="demo.bundle.a1"
#SBATCH --output="demo.bundle.a1.%j.out"
#SBATCH --error="demo.bundle.a1.%j.err"
#SBATCH --exclusive

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 1800 ))
export SLURM_OVERLAP=1
srun --nodes=1 --ntasks=1 --ntasks-per-node=1 --overlap --kill-on-bad-exit=0 /venv/bin/python -m mruntime.bundle.worker /study a1
