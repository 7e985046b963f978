#!/bin/bash
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --partition=pbatch
#SBATCH --account=baasic
#SBATCH --time=01:30:45
#SBATCH --job-name="demo.bundle.a1"
#SBATCH --output="demo.bundle.a1.%j.out"
#SBATCH --error="demo.bundle.a1.%j.err"
#SBATCH --reservation="myres"
#SBATCH --gres=gpu:4
#SBATCH --mincpus=36
#SBATCH --exclusive
#SBATCH --qos=high

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 5445 ))
export SLURM_OVERLAP=1
srun --nodes=4 --ntasks=4 --ntasks-per-node=1 --overlap --kill-on-bad-exit=0 /venv/bin/python -m mruntime.bundle.worker /study a1
