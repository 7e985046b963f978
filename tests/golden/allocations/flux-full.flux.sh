#!/bin/bash
#flux: -N 4
#flux: -n 4
#flux: -c 36
#flux: -g 4
#flux: --exclusive
#flux: -t 5445s
#flux: -q pbatch
#flux: --bank=baasic
#flux: --job-name="demo.bundle.a1"
#flux: --output=demo.bundle.a1.{{id}}.out
#flux: --error=demo.bundle.a1.{{id}}.err
#flux: --setattr=system.bank=x
#flux: --setopt=fastload

cd /study/meta/bundles/a1 || exit 1
export MAESTRO_BUNDLE_END=$(( $(date +%s) + 5445 ))
flux run -N 4 -n 4 /venv/bin/python -m mruntime.bundle.worker /study a1
