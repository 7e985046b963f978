#!/bin/bash
#SBATCH --nodes=1
#SBATCH --partition=queue_name
#SBATCH --account=bank_name
#SBATCH --job-name="procs-new-format"
#SBATCH --output="procs-new-format.%j.out"
#SBATCH --error="procs-new-format.%j.err"
#SBATCH --comment "Newest format for specifying resource allocation. Only requires procs."

srun -n 1 echo "Test print #1"

