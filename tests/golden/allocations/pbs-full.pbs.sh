#!/bin/bash
#PBS -N demo.bundle.a1
#PBS -l select=4:ncpus=36:mpiprocs=1:ngpus=4
#PBS -l place=scatter:excl
#PBS -l walltime=01:30:45
#PBS -q pbatch
#PBS -A baasic

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 5445 ))
pbsdsh -- /usr/bin/env "MAESTRO_BUNDLE_END=$MAESTRO_BUNDLE_END" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh /study/meta/bundles/a1 /venv/bin/python -m mruntime.bundle.worker /study a1
