#!/bin/bash
#BSUB -nnodes 1
#BSUB -W 00:30
#BSUB -J demo.bundle.a1
#BSUB -o demo.bundle.a1.%J.out
#BSUB -e demo.bundle.a1.%J.err

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 1800 ))
jsrun --nrs 1 --rs_per_host 1 --tasks_per_rs 1 --cpu_per_rs 1 --gpu_per_rs 0 --bind none /venv/bin/python -m mruntime.bundle.worker /study a1
