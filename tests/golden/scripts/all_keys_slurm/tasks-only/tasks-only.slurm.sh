#!/bin/bash
#SBATCH --partition=pbatch
#SBATCH --account=baasic
#SBATCH --time=90
#SBATCH --job-name="tasks-only"
#SBATCH --output="tasks-only.%j.out"
#SBATCH --error="tasks-only.%j.err"
#SBATCH --comment "procs without nodes"
#SBATCH --reservation="myres"
#SBATCH --ntasks=3

srun -n 3 ./a.out
