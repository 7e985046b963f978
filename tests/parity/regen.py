"""Regenerate (or, with --check, verify) the parity goldens from the real maestrowf 1.2.1.

Run with any Python >= 3.10 (e.g. .venv/bin/python); maestrowf itself runs in .parity-venv
(tests/parity/make_venv.sh), through maestro_dump.py, one process per case.

    python tests/parity/regen.py            # rewrite tests/golden/parity/*.json
    python tests/parity/regen.py --check    # compare with live maestrowf, write nothing; exit 1 on drift
    python tests/parity/regen.py -k hashws  # only cases whose name contains 'hashws'

The goldens are Maestro's answer, never ours: pytest's --update-goldens does not touch them.
"""

import argparse
import difflib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parity_cases import (CORPUS, DUMP, GOLDEN, PARITY_PYTHON, REPO, Case,  # noqa: E402
                          all_cases, render_golden)


def maestro_answer(case: Case) -> dict:
    """The golden document for ``case``, computed by maestrowf."""
    cmd = [str(PARITY_PYTHON), str(DUMP), str(CORPUS / case.spec), *case.flags()]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{case.name}: maestro_dump.py failed ({proc.returncode}):\n{proc.stderr}")
    doc = json.loads(proc.stdout)
    doc["case"] = case.describe()
    doc["maestrowf"] = "1.2.1"
    return doc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if a golden differs or is missing")
    parser.add_argument("-k", dest="select", default="", help="only cases whose name contains this text")
    args = parser.parse_args(argv)
    if not PARITY_PYTHON.exists():
        print(f"regen: {PARITY_PYTHON} is missing; run tests/parity/make_venv.sh first", file=sys.stderr)
        return 2
    cases = [c for c in all_cases() if args.select in c.name]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(maestro_answer, cases))
    drift = 0
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for case, doc in zip(cases, answers):
        fresh = render_golden(doc)
        old = case.golden.read_text(encoding="utf-8") if case.golden.exists() else None
        if old == fresh:
            continue
        drift += 1
        if args.check:
            diff = difflib.unified_diff((old or "").splitlines(True), fresh.splitlines(True),
                                        f"golden/{case.golden.name}", "live maestrowf", n=2)
            sys.stdout.writelines(diff if old is not None else [f"missing golden: {case.golden}\n"])
        else:
            case.golden.write_text(fresh, encoding="utf-8")
            print(f"wrote {case.golden.relative_to(REPO)}")
    stale = [] if args.select else sorted(
        p.name for p in GOLDEN.glob("*.json") if p.stem not in {c.name for c in cases})
    for name in stale:
        print(f"stale golden (no case produces it): tests/golden/parity/{name}")
    verb = "differ from" if args.check else "rewritten from"
    print(f"regen: {len(cases)} cases, {drift} {verb} live maestrowf 1.2.1, {len(stale)} stale", file=sys.stderr)
    return 1 if args.check and (drift or stale) else 0


if __name__ == "__main__":
    sys.exit(main())
