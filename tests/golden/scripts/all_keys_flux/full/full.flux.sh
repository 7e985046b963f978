#!/bin/bash
#flux: -N 2
#flux: -t 5445.0s
#flux: -q pbatch
#flux: --bank=baasic
#flux: --job-name="full"
#flux: --output=full.{{id}}.out
#flux: --error=full.{{id}}.err
#flux: --exclusive
#flux: --setattr=system.bank=x
#flux: --setopt=fastload

flux run -N 2 -n 8 -c 2 -g 1 --setopt=cpu-affinity=per-task --setattr=foo=true app1 /study/full
flux run -N 1 -n 4 -c 2 -g 1 --setopt=cpu-affinity=per-task --setattr=foo=true app2
flux run -N 1 -n 4 -c 2 -g 1 --setopt=cpu-affinity=per-task --setattr=foo=true app3

