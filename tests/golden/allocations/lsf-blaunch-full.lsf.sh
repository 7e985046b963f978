#!/bin/bash
#BSUB -n 4
#BSUB -R "span[ptile=1]"
#BSUB -x
#BSUB -gpu "num=4"
#BSUB -q pbatch
#BSUB -G baasic
#BSUB -W 01:31
#BSUB -J demo.bundle.a1
#BSUB -o demo.bundle.a1.%J.out
#BSUB -U myres
#BSUB -e demo.bundle.a1.%J.err

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 5445 ))
blaunch /venv/bin/python -m mruntime.bundle.worker /study a1
