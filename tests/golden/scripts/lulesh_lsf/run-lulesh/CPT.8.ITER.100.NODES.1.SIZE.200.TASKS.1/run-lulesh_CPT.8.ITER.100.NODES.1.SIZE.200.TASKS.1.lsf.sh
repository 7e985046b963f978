#!/bin/bash
#BSUB -nnodes 1
#BSUB -q pdebug
#BSUB -G wbronze
#BSUB -W 00:10
#BSUB -J run-lulesh_CPT.8.ITER.100.NODES.1.SIZE.200.TASKS.1
#BSUB -o run-lulesh_CPT.8.ITER.100.NODES.1.SIZE.200.TASKS.1.%J.out
#BSUB -e run-lulesh_CPT.8.ITER.100.NODES.1.SIZE.200.TASKS.1.%J.err

# LLNL specific initialization of lmod setup on the allocation
source /etc/profile.d/z00_lmod.sh

# Ensure consistent mpi is active (LC systems reload mpi with compiler changes)
module load gcc/8.3

# Echo parallel resources for easier id in post
echo "NODES: 1"
echo "TASKS: 1"
echo "CPUS_PER_TASK: 8"

# OPENMP settings
export OMP_NUM_THREADS=8
echo "OPENMP THREADS: $OMP_NUM_THREADS"

jsrun --nrs 1 -b rs -a 1 -r 1 -c 8 /study/LULESH/build/lulesh2.0 -s 200 -i 100 -p >& SIZE.200.ITER.100.CPT.8.TASKS.1.log

