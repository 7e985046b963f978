#!/bin/bash

module load cmake/3.13.4
cd /study/LULESH
mkdir build
cd build
cmake -DCMAKE_BUILD_TYPE=Release -DMPI_CXX_COMPILER=`which mpicxx` ..
make

