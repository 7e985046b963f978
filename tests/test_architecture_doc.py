"""docs/architecture.md names a test for every fast path: each one exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_architecture_page_names_exists():
    page = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`(test_[a-z0-9_]+)(?:\[[^\]]*\])?`", page))
    assert len(named) > 10
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined.update(re.findall(r"^def (test_[a-z0-9_]+)\(", path.read_text(), re.M))
    assert named - defined == set()


def test_every_test_the_reliability_page_names_exists():
    page = (ROOT / "docs" / "reliability.md").read_text()
    named = set(re.findall(r"(?<![\w/])(test_[a-z0-9_]+)\b(?!\.py)", page))
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined.update(re.findall(r"^def (test_[a-z0-9_]+)\(", path.read_text(), re.M))
    assert len(named) > 40
    assert named - defined == set()
