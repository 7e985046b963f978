#!/bin/bash
#BSUB -nnodes 1
#BSUB -q queue_name
#BSUB -G bank_name
#BSUB -J procs-new-format
#BSUB -o procs-new-format.%J.out
#BSUB -e procs-new-format.%J.err

jsrun --nrs 1 -b rs -a 1 -r 1 -c 1 echo "Test print #1"

