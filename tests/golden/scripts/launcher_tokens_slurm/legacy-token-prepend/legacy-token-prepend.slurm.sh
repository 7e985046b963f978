#!/bin/bash
#SBATCH --nodes=1
#SBATCH --partition=queue_name
#SBATCH --account=bank_name
#SBATCH --job-name="legacy-token-prepend"
#SBATCH --output="legacy-token-prepend.%j.out"
#SBATCH --error="legacy-token-prepend.%j.err"
#SBATCH --comment "The legacy format for simply appending all of the step's resources to a single command. Procs is the only resource required for this format."

srun -n 1 -N 1 echo "Test print #1"

