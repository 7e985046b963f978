#!/bin/bash
#flux: -N 1
#flux: -n 1
#flux: -q queue_name
#flux: --bank=bank_name
#flux: --job-name="legacy-token-prepend"
#flux: --output=legacy-token-prepend.{{id}}.out
#flux: --error=legacy-token-prepend.{{id}}.err

flux run -N 1 -n 1 echo "Test print #1"

