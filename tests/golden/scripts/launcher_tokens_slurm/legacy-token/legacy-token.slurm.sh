#!/bin/bash
#SBATCH --nodes=2
#SBATCH --partition=queue_name
#SBATCH --account=bank_name
#SBATCH --job-name="legacy-token"
#SBATCH --output="legacy-token.%j.out"
#SBATCH --error="legacy-token.%j.err"
#SBATCH --comment "The legacy format for specifying node and task breakdown. Both nodes and procs are required for this format."

srun -n 1 -N 1 echo "Test print #1"
srun -n 1 -N 1 echo "Test print #2"

