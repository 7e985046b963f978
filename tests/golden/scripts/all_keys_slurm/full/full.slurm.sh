#!/bin/bash
#SBATCH --nodes=2
#SBATCH --partition=pbatch
#SBATCH --account=baasic
#SBATCH --time=01:30:45
#SBATCH --job-name="full"
#SBATCH --output="full.%j.out"
#SBATCH --error="full.%j.err"
#SBATCH --comment "all the keys on 'two' lines "
#SBATCH --reservation="myres"
#SBATCH --gres=gpu:1
#SBATCH --exclusive
#SBATCH --qos=high

srun -n 8 -N 2 -c 2 app1 /study/full
srun -n 4 -N 1 -c 2 app2
srun -n 4 -N 1 -c 2 app3

