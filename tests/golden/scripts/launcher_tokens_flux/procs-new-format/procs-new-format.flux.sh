#!/bin/bash
#flux: -n 1
#flux: -q queue_name
#flux: --bank=bank_name
#flux: --job-name="procs-new-format"
#flux: --output=procs-new-format.{{id}}.out
#flux: --error=procs-new-format.{{id}}.err

flux run -n 1 echo "Test print #1"

