#!/bin/sh
# Create .parity-venv with the real maestrowf 1.2.1, for the parity goldens and the benchmarks.
# Kept apart from .venv on purpose: both projects install a `maestro` command.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$ROOT/.parity-venv"
PYTHON=${PYTHON:-python3}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import maestrowf' 2>/dev/null; then
    exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet maestrowf==1.2.1
"$VENV/bin/python" -c 'import maestrowf' 
echo "parity venv ready: $VENV"
