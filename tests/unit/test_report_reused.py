"""Reports show steps a --reuse run brought over as FINISHED and reused: a field, a column."""

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from mreport.core import report_studies
from mshared.studydir import edit_state

from reuse_helpers import SPEC, make_study

NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)
SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "report.v1.schema.json"


@pytest.fixture
def studies(tmp_path):
    old = make_study(tmp_path, "old")
    new = make_study(tmp_path, "new", spec=SPEC.replace("[1, 2, 3]", "[1, 2, 4]"), reuse=old)
    return old, new


def report(root, **kwargs) -> str:
    [out] = report_studies([root], now=NOW, **kwargs)
    return out.output.decode()


def test_json_marks_reused_steps_and_counts_them(studies):
    old, new = studies
    doc = json.loads(report(new, fmt="json"))
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["sim_X.1"]["state"] == "FINISHED"
    assert steps["sim_X.1"]["reused_from"] == {"study": old, "step": "sim_X.1", "job_id": "1001"}
    assert "reused_from" not in steps["sim_X.4"]
    assert doc["summary"]["reused"] == 3 and doc["summary"]["counts"] == {"FINISHED": 5}


def test_tables_get_the_column_and_the_summary_says_how_many(studies):
    old, new = studies
    text = report(new, width=None)
    assert text.splitlines()[0].endswith("5 steps: 5 FINISHED (3 reused)")
    header = next(line for line in text.splitlines() if line.startswith("| Step Name "))
    assert header.split("|")[-2].strip() == "Reused From"
    row = next(line for line in text.splitlines() if line.startswith("| sim_X.1 "))
    assert row.rstrip(" |").endswith(old)
    assert f"REUSED FROM: {old}" in report(new, layout="narrow")
    assert "Reused From" in report(new, layout="legacy") and "| Reused From |" in report(new, fmt="md")


def test_csv_gets_the_column_at_the_end(studies):
    old, new = studies
    rows = list(csv.reader(io.StringIO(report(new, fmt="csv"))))
    assert rows[0][-2:] == ["Params", "Reused From"]
    by_name = {r[0]: r[-1] for r in rows[1:]}
    assert by_name == {"prep": old, "sim_X.1": old, "sim_X.2": old, "sim_X.4": "--", "post": "--"}


def test_a_study_without_reused_steps_looks_as_before(studies):
    old, _ = studies
    assert "Reused From" not in report(old) and '"reused' not in report(old, fmt="json")
    assert "Reused From" not in report(old, fmt="csv") and "(3 reused)" not in report(old)


def test_a_rerun_step_is_a_step_of_this_study_again(studies):
    _, new = studies

    def rerun(state, dag):
        state["steps"]["sim_X.1"].update(job_id="77", jobs=state["steps"]["sim_X.1"]["jobs"] + ["77"])

    edit_state(new, rerun)
    doc = json.loads(report(new, fmt="json"))
    assert doc["summary"]["reused"] == 2
    assert "reused_from" not in {s["id"]: s for s in doc["steps"]}["sim_X.1"]
