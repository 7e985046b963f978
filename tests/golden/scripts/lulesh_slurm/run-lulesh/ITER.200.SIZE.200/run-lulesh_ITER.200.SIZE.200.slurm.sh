#!/bin/bash
#SBATCH --nodes=2
#SBATCH --partition=pbatch
#SBATCH --account=baasic
#SBATCH --time=00:10:00
#SBATCH --job-name="run-lulesh_ITER.200.SIZE.200"
#SBATCH --output="run-lulesh_ITER.200.SIZE.200.%j.out"
#SBATCH --error="run-lulesh_ITER.200.SIZE.200.%j.err"
#SBATCH --comment "Run LULESH."
#SBATCH --reservation="test_reservation"
#SBATCH --exclusive

srun -n 27 -N 2 /study/LULESH/build/lulesh2.0 -s 200 -i 200 -p > SIZE.200.ITER.200.log

