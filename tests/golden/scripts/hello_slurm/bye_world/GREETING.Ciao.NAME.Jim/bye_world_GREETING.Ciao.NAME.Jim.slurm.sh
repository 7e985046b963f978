#!/bin/bash
#SBATCH --partition=pdebug
#SBATCH --account=wbronze
#SBATCH --job-name="bye_world_GREETING.Ciao.NAME.Jim"
#SBATCH --output="bye_world_GREETING.Ciao.NAME.Jim.%j.out"
#SBATCH --error="bye_world_GREETING.Ciao.NAME.Jim.%j.err"
#SBATCH --comment "Say bye to someone!"
#SBATCH --ntasks=1

srun -n 1 echo "Bye, World!" > bye.txt

