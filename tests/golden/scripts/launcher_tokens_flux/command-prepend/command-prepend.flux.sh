#!/bin/bash
#flux: -N 1
#flux: -n 1
#flux: -q queue_name
#flux: --bank=bank_name
#flux: --job-name="command-prepend"
#flux: --output=command-prepend.{{id}}.out
#flux: --error=command-prepend.{{id}}.err

echo "Test print #1"

