#!/bin/bash
#BSUB -nnodes 4
#BSUB -q pbatch
#BSUB -G baasic
#BSUB -W 01:31
#BSUB -J demo.bundle.a1
#BSUB -o demo.bundle.a1.%J.out
#BSUB -U myres
#BSUB -e demo.bundle.a1.%J.err

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 5445 ))
jsrun --nrs 4 --rs_per_host 1 --tasks_per_rs 1 --cpu_per_rs 1 --gpu_per_rs 0 --bind none /venv/bin/python -m mruntime.bundle.worker /study a1
