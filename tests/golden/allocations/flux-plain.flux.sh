#!/bin/bash
#flux: -N 1
#flux: -n 1
#flux: --exclusive
#flux: -t 1800s
#flux: --job-name="demo.bundle.a1"
#flux: --output=demo.bundle.a1.{{id}}.out
#flux: --error=demo.bundle.a1.{{id}}.err

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 1800 ))
flux run -N 1 -n 1 /venv/bin/python -m mruntime.bundle.worker /study a1
