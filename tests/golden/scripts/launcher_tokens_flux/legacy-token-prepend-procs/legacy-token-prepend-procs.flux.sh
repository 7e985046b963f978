#!/bin/bash
#flux: -n 1
#flux: -q queue_name
#flux: --bank=bank_name
#flux: --job-name="legacy-token-prepend-procs"
#flux: --output=legacy-token-prepend-procs.{{id}}.out
#flux: --error=legacy-token-prepend-procs.{{id}}.err

flux run -n 1 echo "Test print #1"

