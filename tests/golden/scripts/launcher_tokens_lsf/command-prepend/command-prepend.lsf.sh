#!/bin/bash
#BSUB -nnodes 1
#BSUB -q queue_name
#BSUB -G bank_name
#BSUB -J command-prepend
#BSUB -o command-prepend.%J.out
#BSUB -e command-prepend.%J.err

echo "Test print #1"

