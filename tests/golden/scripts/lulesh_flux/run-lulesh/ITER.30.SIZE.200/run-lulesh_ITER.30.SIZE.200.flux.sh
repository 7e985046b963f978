#!/bin/bash
#flux: -N 1
#flux: -n 1
#flux: -t 120.0s
#flux: -q pbatch
#flux: --bank=baasic
#flux: --job-name="run-lulesh_ITER.30.SIZE.200"
#flux: --output=run-lulesh_ITER.30.SIZE.200.{{id}}.out
#flux: --error=run-lulesh_ITER.30.SIZE.200.{{id}}.err

flux run -N 1 -n 1 -c 1 /study/LULESH/build/lulesh2.0 -s 200 -i 30 -p > SIZE.200.ITER.30.log

