#!/bin/bash
#SBATCH --partition=pdebug
#SBATCH --account=wbronze
#SBATCH --job-name="hello_world_GREETING.Ciao.NAME.Jim"
#SBATCH --output="hello_world_GREETING.Ciao.NAME.Jim.%j.out"
#SBATCH --error="hello_world_GREETING.Ciao.NAME.Jim.%j.err"
#SBATCH --comment "Say hello to someone!"
#SBATCH --ntasks=1

srun -n 1 echo "Ciao, Jim!" > Ciao_Jim.txt

