"""mexpand expands every Maestro sample (and the pgen/hashws variants) exactly as maestrowf 1.2.1.

The goldens in tests/golden/parity are Maestro's own staged graphs (tests/parity/regen.py);
this test needs no maestrowf.  Maestro substitutes $(OUTPUT_PATH), $(SPECROOT), $(WORKSPACE) and
$(step.workspace) at staging, and the golden turns the absolute study root and spec directory back
into $(OUTPUT_PATH) and $(SPECROOT).  mexpand leaves the root tokens literal; resolving them with
the study root "$(OUTPUT_PATH)" gives the same text.  $(LAUNCHER) stays literal on both sides.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parity_cases import CORPUS, GOLDEN, all_cases, load_golden, sample_specs  # noqa: E402

from mshared.root_tokens import resolve_root_tokens  # noqa: E402

CASES = all_cases()
ROOT = "$(OUTPUT_PATH)"


def _mexpand_command() -> list[str]:
    script = Path(sys.executable).with_name("mexpand")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mexpand"]


def run_mexpand(case, cwd: Path) -> dict:
    spec = CORPUS / case.spec
    proc = subprocess.run([*_mexpand_command(), str(spec), *case.flags()], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"mexpand failed ({proc.returncode}): {proc.stderr}"
    return json.loads(proc.stdout)


def as_maestro(dag: dict, specroot: str) -> dict:
    """mexpand's DAG in the golden's shape, with root tokens resolved against $(OUTPUT_PATH)."""

    def text(value, step):
        value = resolve_root_tokens(value, step, ROOT) or ""
        return value.replace(specroot, "$(SPECROOT)")

    instances = [{
        "id": step["id"],
        "depends": sorted(set(step["depends"])),
        "workspace": step["workspace"],
        "cmd": text(step["cmd"], step),
        "restart": text(step.get("restart"), step),
    } for step in dag["steps"]]
    return {"study": dag["study"]["name"], "instances": sorted(instances, key=lambda i: i["id"])}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_mexpand_matches_maestro(case, tmp_path):
    golden = load_golden(case)
    assert golden["case"] == case.describe(), f"{case.golden.name} was made for another case; run regen.py"
    ours = as_maestro(run_mexpand(case, tmp_path), str((CORPUS / case.spec).parent))
    assert ours["study"] == golden["study"]
    theirs = {i["id"]: i for i in golden["instances"]}
    mine = {i["id"]: i for i in ours["instances"]}
    assert sorted(mine) == sorted(theirs), "instance ids differ"
    for ident, expected in theirs.items():
        for field in ("depends", "workspace", "cmd", "restart"):
            assert mine[ident][field] == expected[field], f"{ident}: {field} differs from Maestro"
    assert not any(tmp_path.iterdir()), "mexpand wrote files into its working directory"


def test_every_sample_has_a_golden():
    """A new sample without a golden fails here: run tests/parity/regen.py."""
    specs = sample_specs()
    assert specs, "no samples found under tests/corpus/maestro-samples"
    covered = {c.spec for c in CASES if c.golden.exists()}
    missing = [s for s in specs if s not in covered]
    assert not missing, f"no parity golden for {missing}; run tests/parity/regen.py"


def test_no_stale_goldens():
    names = {c.name for c in CASES}
    stale = sorted(p.name for p in GOLDEN.glob("*.json") if p.stem not in names)
    assert not stale, f"goldens no case produces: {stale}"


def test_variants_cover_hashws_and_pgen():
    flagged = {(c.spec.rsplit("/", 1)[-1], bool(c.pgen), c.hashws) for c in CASES}
    for spec in ("hello_bye_parameterized.yaml", "lulesh_sample1_unix.yaml"):
        assert (spec, False, True) in flagged
    assert ("batched_parameters_demo.yaml", True, False) in flagged
    for pgen in ("cross_product.py", "csv_rows.py", "monte_carlo.py"):
        assert any(c.pgen and c.pgen.endswith(pgen) for c in CASES)
    assert all(os.path.exists(CORPUS / c.pgen) for c in CASES if c.pgen)
