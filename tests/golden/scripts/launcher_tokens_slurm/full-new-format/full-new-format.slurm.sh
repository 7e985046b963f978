#!/bin/bash
#SBATCH --nodes=2
#SBATCH --partition=queue_name
#SBATCH --account=bank_name
#SBATCH --job-name="full-new-format"
#SBATCH --output="full-new-format.%j.out"
#SBATCH --error="full-new-format.%j.err"
#SBATCH --comment "Newest format for specifying resource allocation. Only requires procs."

srun -n 1 -N 1 echo "Test print #1"
srun -n 1 -N 1 echo "Test print #2"

