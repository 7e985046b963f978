#!/bin/bash
#BSUB -nnodes 1
#BSUB -q pbatch
#BSUB -G baasic
#BSUB -W 90
#BSUB -J tasks-only
#BSUB -o tasks-only.%J.out
#BSUB -U myres
#BSUB -e tasks-only.%J.err

jsrun --nrs 3 -b rs -a 1 -r 1 -c 1 ./a.out
