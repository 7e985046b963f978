#!/bin/bash
#PBS -N demo.bundle.a1
#PBS -l select=1:ncpus=1:mpiprocs=1
#PBS -l place=scatter:excl
#PBS -l walltime=00:30:00

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 1800 ))
pbsdsh -- /usr/bin/env "MAESTRO_BUNDLE_END=$MAESTRO_BUNDLE_END" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh /study/meta/bundles/a1 /venv/bin/python -m mruntime.bundle.worker /study a1
