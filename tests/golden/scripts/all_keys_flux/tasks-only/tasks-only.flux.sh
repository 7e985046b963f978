#!/bin/bash
#flux: -n 3
#flux: -t 5400s
#flux: -q pbatch
#flux: --bank=baasic
#flux: --job-name="tasks-only"
#flux: --output=tasks-only.{{id}}.out
#flux: --error=tasks-only.{{id}}.err
#flux: --setattr=system.bank=x
#flux: --setopt=fastload

flux run -n 3 --setopt=cpu-affinity=per-task --setattr=foo=true ./a.out
