#!/bin/bash
#PBS -N legacy-token
#PBS -l select=2:ncpus=1:mpiprocs=1
#PBS -l place=scatter
#PBS -q queue_name
#PBS -A bank_name
cd "$PBS_O_WORKDIR"

mpiexec -n 1 echo "Test print #1"
mpiexec -n 1 echo "Test print #2"

