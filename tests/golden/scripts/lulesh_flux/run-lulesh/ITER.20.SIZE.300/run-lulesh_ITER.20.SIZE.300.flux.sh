#!/bin/bash
#flux: -N 1
#flux: -n 1
#flux: -t 120.0s
#flux: -q pbatch
#flux: --bank=baasic
#flux: --job-name="run-lulesh_ITER.20.SIZE.300"
#flux: --output=run-lulesh_ITER.20.SIZE.300.{{id}}.out
#flux: --error=run-lulesh_ITER.20.SIZE.300.{{id}}.err

flux run -N 1 -n 1 -c 1 /study/LULESH/build/lulesh2.0 -s 300 -i 20 -p > SIZE.300.ITER.20.log

