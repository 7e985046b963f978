#!/bin/bash
#BSUB -n 1
#BSUB -R "span[ptile=1]"
#BSUB -x
#BSUB -W 00:30
#BSUB -J demo.bundle.a1
#BSUB -o demo.bundle.a1.%J.out
#BSUB -e demo.bundle.a1.%J.err

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 1800 ))
blaunch /venv/bin/python -m mruntime.bundle.worker /study a1
