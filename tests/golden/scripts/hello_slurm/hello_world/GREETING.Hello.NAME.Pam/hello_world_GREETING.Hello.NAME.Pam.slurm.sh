#!/bin/bash
#SBATCH --partition=pdebug
#SBATCH --account=wbronze
#SBATCH --job-name="hello_world_GREETING.Hello.NAME.Pam"
#SBATCH --output="hello_world_GREETING.Hello.NAME.Pam.%j.out"
#SBATCH --error="hello_world_GREETING.Hello.NAME.Pam.%j.err"
#SBATCH --comment "Say hello to someone!"
#SBATCH --ntasks=1

srun -n 1 echo "Hello, Pam!" > Hello_Pam.txt

