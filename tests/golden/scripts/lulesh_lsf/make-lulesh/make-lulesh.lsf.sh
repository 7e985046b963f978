#!/bin/bash
#BSUB -nnodes 1
#BSUB -q pdebug
#BSUB -G wbronze
#BSUB -W 10
#BSUB -J make-lulesh
#BSUB -o make-lulesh.%J.out
#BSUB -e make-lulesh.%J.err

# LLNL specific initialization of lmod setup on the allocation
source /etc/profile.d/z00_lmod.sh

# NOTE: ensure a compatible mpi install is available for specified compiler
module load gcc/8.3.1

module load cmake/3.14.5

cd /study/LULESH
mkdir build
cd build
cmake -DCMAKE_BUILD_TYPE=Release -DWITH_MPI=On -D -DWITH_OMP=On -DMPI_CXX_COMPILER=`which mpicxx` ..
make

