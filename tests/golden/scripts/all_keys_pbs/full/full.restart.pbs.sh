#!/bin/bash
#PBS -N full
#PBS -l select=2:ncpus=8:mpiprocs=4:ngpus=1
#PBS -l place=scatter:excl
#PBS -l walltime=01:30:45
#PBS -q pbatch
#PBS -A baasic
cd "$PBS_O_WORKDIR"

mpiexec -n 8 -ppn 4 --cpus-per-proc 2 again

