#!/bin/bash
#SBATCH --partition=pdebug
#SBATCH --account=wbronze
#SBATCH --job-name="hello_world_GREETING.Hi.NAME.Dwight"
#SBATCH --output="hello_world_GREETING.Hi.NAME.Dwight.%j.out"
#SBATCH --error="hello_world_GREETING.Hi.NAME.Dwight.%j.err"
#SBATCH --comment "Say hello to someone!"
#SBATCH --ntasks=1

srun -n 1 echo "Hi, Dwight!" > Hi_Dwight.txt

