#!/bin/bash
#BSUB -nnodes 1
#BSUB -q queue_name
#BSUB -G bank_name
#BSUB -J legacy-token-prepend-procs
#BSUB -o legacy-token-prepend-procs.%J.out
#BSUB -e legacy-token-prepend-procs.%J.err

jsrun --nrs 1 -b rs -a 1 -r 1 -c 1 echo "Test print #1"

