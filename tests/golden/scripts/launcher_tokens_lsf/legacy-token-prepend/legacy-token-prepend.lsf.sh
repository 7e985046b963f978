#!/bin/bash
#BSUB -nnodes 1
#BSUB -q queue_name
#BSUB -G bank_name
#BSUB -J legacy-token-prepend
#BSUB -o legacy-token-prepend.%J.out
#BSUB -e legacy-token-prepend.%J.err

jsrun --nrs 1 -b rs -a 1 -r 1 -c 1 echo "Test print #1"

