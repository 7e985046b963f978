#!/bin/bash
#SBATCH --nodes=1
#SBATCH --partition=queue_name
#SBATCH --account=bank_name
#SBATCH --job-name="command-prepend"
#SBATCH --output="command-prepend.%j.out"
#SBATCH --error="command-prepend.%j.err"
#SBATCH --comment "This format automatically prepends the scheduler appropriate MPI command. Procs is the only required resource."

echo "Test print #1"

