#!/bin/bash
#BSUB -nnodes 2
#BSUB -q pbatch
#BSUB -G baasic
#BSUB -W 01:31
#BSUB -J full
#BSUB -o full.%J.out
#BSUB -U myres
#BSUB -e full.%J.err

jsrun --nrs 8 -b packed:2 -g 1 -a 2 -r 2 -c 4 app1 /study/full
jsrun --nrs 4 -b packed:2 -g 1 -a 2 -r 2 -c 4 app2
jsrun --nrs 4 -b packed:2 -g 1 -a 2 -r 2 -c 4 app3

