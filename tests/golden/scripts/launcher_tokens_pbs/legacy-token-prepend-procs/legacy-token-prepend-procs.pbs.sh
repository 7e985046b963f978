#!/bin/bash
#PBS -N legacy-token-prepend-procs
#PBS -l select=1:ncpus=1:mpiprocs=1
#PBS -q queue_name
#PBS -A bank_name
cd "$PBS_O_WORKDIR"

mpiexec -n 1 echo "Test print #1"

