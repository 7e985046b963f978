"""`make parity`: check the parity goldens against live maestrowf 1.2.1, writing nothing.

Same as `regen.py --check` (extra arguments such as -k NAME pass through); exit 1 on drift.
Needs .parity-venv (tests/parity/make_venv.sh).  To accept Maestro's answer: regen.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from regen import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["--check", *sys.argv[1:]]))
