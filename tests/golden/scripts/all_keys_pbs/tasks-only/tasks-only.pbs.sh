#!/bin/bash
#PBS -N tasks-only
#PBS -l select=3:ncpus=1:mpiprocs=1
#PBS -l walltime=01:30:00
#PBS -q pbatch
#PBS -A baasic
cd "$PBS_O_WORKDIR"

mpiexec -n 3 -ppn 3 --cpus-per-proc 1 ./a.out
