#!/bin/bash
#BSUB -nnodes 2
#BSUB -q queue_name
#BSUB -G bank_name
#BSUB -J legacy-token
#BSUB -o legacy-token.%J.out
#BSUB -e legacy-token.%J.err

jsrun --nrs 1 -b rs -a 1 -r 1 -c 1 echo "Test print #1"
jsrun --nrs 1 -b rs -a 1 -r 1 -c 1 echo "Test print #2"

