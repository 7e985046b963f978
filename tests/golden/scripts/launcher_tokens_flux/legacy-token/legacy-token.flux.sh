#!/bin/bash
#flux: -N 2
#flux: -n 2
#flux: -q queue_name
#flux: --bank=bank_name
#flux: --job-name="legacy-token"
#flux: --output=legacy-token.{{id}}.out
#flux: --error=legacy-token.{{id}}.err

flux run -N 1 -n 1 echo "Test print #1"
flux run -N 1 -n 1 echo "Test print #2"

