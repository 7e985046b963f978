#!/bin/bash
#SBATCH --nodes=2
#SBATCH --partition=pbatch
#SBATCH --account=baasic
#SBATCH --time=00:10:00
#SBATCH --job-name="run-lulesh_ITER.200.SIZE.300"
#SBATCH --output="run-lulesh_ITER.200.SIZE.300.%j.out"
#SBATCH --error="run-lulesh_ITER.200.SIZE.300.%j.err"
#SBATCH --comment "Run LULESH."
#SBATCH --reservation="test_reservation"
#SBATCH --exclusive

srun -n 27 -N 2 /study/LULESH/build/lulesh2.0 -s 300 -i 200 -p > SIZE.300.ITER.200.log

