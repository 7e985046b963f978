#!/bin/bash
#SBATCH --partition=pdebug
#SBATCH --account=wbronze
#SBATCH --job-name="hello_world_GREETING.Hey.NAME.Michael"
#SBATCH --output="hello_world_GREETING.Hey.NAME.Michael.%j.out"
#SBATCH --error="hello_world_GREETING.Hey.NAME.Michael.%j.err"
#SBATCH --comment "Say hello to someone!"
#SBATCH --ntasks=1

srun -n 1 echo "Hey, Michael!" > Hey_Michael.txt

