"""mreport's text layouts against golden files (tests/golden/reports/; --update-goldens rewrites).

The study is test_mreport_cli's (fixed --now, local time UTC-5).  The study's path varies from run
to run, so it is replaced by <ROOT> (and the spaces that centre it are squeezed).
legacy.maestro.txt was written by maestrowf 1.2.1 itself (`maestro status DIR --layout legacy`
on the status.csv that `mreport --format csv` gives for this study): our legacy layout must match
it line for line.
"""

import re
from pathlib import Path

import pytest

from test_mreport_cli import fixed_tz, make, rendered, run  # noqa: F401  (fixtures: local time UTC-5)

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "reports"
CASES = {
    "flat": ["-w", "0"],
    "flat-w120": ["-w", "120"],
    "flat-w60": ["-w", "60"],
    "narrow": ["--layout", "narrow", "-w", "0"],
    "legacy": ["--layout", "legacy"],
    "md-why": ["--format", "md", "--why", "-n", "3"],
    "why": ["--why", "-n", "3", "--state", "FAILED", "--state", "RUNNING", "-w", "0"],
    "groups": ["--group-by", "X", "--group-by", "Y"],
    "summary": ["--summary"],
}


def normalise(text: str, root: str) -> str:
    lines = []
    for line in text.replace(root, "<ROOT>").split("\n"):
        lines.append(re.sub(r"  +", " ", line) if "<ROOT>" in line else line)
    return "\n".join(lines)


def check(name: str, text: str, update: bool) -> None:
    path = GOLDEN / f"{name}.txt"
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name}: output differs from {path} (--update-goldens rewrites it)"


@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_matches_golden(name, rendered, tmp_path, update_goldens):  # noqa: F811
    root = make(rendered, tmp_path)
    check(name, normalise(run([root, *CASES[name]]).stdout, root), update_goldens)


def test_legacy_layout_is_maestros(rendered, tmp_path):  # noqa: F811
    root = make(rendered, tmp_path)
    ours = run([root, "--layout", "legacy"]).stdout.split("\n", 2)[2]    # without the summary line
    maestro = (GOLDEN / "legacy.maestro.txt").read_text()   # Maestro's print() adds a blank line
    assert normalise(ours, root) == maestro.removesuffix("\n")
