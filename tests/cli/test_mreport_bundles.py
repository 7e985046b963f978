"""Reports of a study with bundled steps (issue 17): where each step ran, its allocation and node.

A bundled step's state entry carries ``alloc`` (the scheduler's job id of the allocation) and
``node`` (the host it ran on), and a bundle ticket id as its job_id.  Tables get the columns
Allocation and Node after Job ID, the CSV gets them after Maestro's columns, JSON step records the
fields where they are known; a study without bundled steps is reported exactly as before.  The
state is made by hand with test_mreport_cli's helpers (fixed --now, local time UTC-5); the goldens
are tests/golden/reports/bundled-*.txt (--update-goldens rewrites them).
"""

import csv
import io
import json
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from maestro_cli.cli import main as maestro
from mshared.statefile import read_state
from mshared.statusrows import COLUMNS, TABLE_COLUMNS, status_csv
from test_mreport_cli import IDS, MIXED, fixed_tz, make, rendered, run, schema  # noqa: F401  (fixtures)
from test_mreport_golden import check, normalise

DOCS = Path(__file__).resolve().parents[2] / "docs"
FIRST, SECOND = "b-1a2b3c4d5e6f", "b-9f8e7d6c5b4a"    # bundle ids: a ticket is <bundle>.<stem>


def _ticket(entry: dict, bundle: str, sid: str, alloc: str, node: str | None = None) -> dict:
    ticket = f"{bundle}.{sid}"
    out = {**entry, "job_id": ticket, "jobs": [ticket], "alloc": alloc}
    if node is not None:
        out["node"] = node
    return out


# prep ran as its own job; two sims ran in allocation 5501 on two nodes; the third waits in
# allocation 5502, whose node is not known yet; post has not started
BUNDLED = {
    "prep": MIXED["prep"],
    "sim_X.1.Y.a": _ticket(MIXED["sim_X.1.Y.a"], FIRST, "sim_X.1.Y.a", "5501", "node01"),
    "sim_X.2.Y.b": _ticket(MIXED["sim_X.2.Y.b"], FIRST, "sim_X.2.Y.b", "5501", "node02"),
    "sim_X.3.Y.c": _ticket({"state": "PENDING", "attempts": 1, "submitted": "2026-11-25T11:30:00Z"},
                           SECOND, "sim_X.3.Y.c", "5502"),
    "post": {},
}
GOLDEN_CASES = {
    "bundled-flat": ["-w", "0"],
    "bundled-flat-w160": ["-w", "160"],      # a ticket folds after its '.', as a name does
    "bundled-narrow": ["--layout", "narrow", "-w", "0"],
    "bundled-legacy": ["--layout", "legacy"],
    "bundled-md-why": ["--format", "md", "--why", "-n", "2"],
}
NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


@pytest.fixture
def bundled(rendered, tmp_path):  # noqa: F811
    return make(rendered, tmp_path, BUNDLED)


def cells(text: str, first: str) -> list[str]:
    """The cells of the flat table's line that starts with ``first``."""
    line = next(line for line in text.splitlines() if line.startswith(f"| {first} "))
    return [c.strip() for c in line.split("|")[1:-1]]


# ------------------------------------------------------------------ tables
@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_bundled_study_matches_its_golden(name, bundled, update_goldens):
    check(name, normalise(run([bundled, *GOLDEN_CASES[name]]).stdout, bundled), update_goldens)


def test_flat_table_has_allocation_and_node_after_the_job_id(bundled):
    out = run([bundled, "-w", "0"]).stdout
    assert cells(out, "Step Name") == ["Step Name", "Job ID", "Allocation", "Node", *TABLE_COLUMNS[2:]]
    assert cells(out, "prep")[:4] == ["prep", "101", "--", "--"]
    assert cells(out, "sim_X.2.Y.b")[:5] == ["sim_X.2.Y.b", f"{FIRST}.sim_X.2.Y.b", "5501", "node02", "sim/X.2.Y.b"]
    assert cells(out, "sim_X.3.Y.c")[1:4] == [f"{SECOND}.sim_X.3.Y.c", "5502", "--"]
    assert cells(out, "post")[1:4] == ["--", "--", "--"]


def test_md_legacy_and_narrow_show_them_too(bundled):
    md = run([bundled, "-f", "md"]).stdout.splitlines()
    assert "| Step Name | Job ID | Allocation | Node | Workspace |" in md[4] and md[5] == "|" + "---|" * 12
    legacy = run([bundled, "--layout", "legacy"]).stdout.splitlines()
    assert legacy[5].split()[:5] == ["Step", "Name", "Job", "ID", "Allocation"]
    narrow = run([bundled, "--layout", "narrow", "-w", "0"]).stdout
    assert "  ALLOCATION:  5501\n  NODE:        node01\n" in narrow
    assert "  ALLOCATION:  5502\n                         Step Details" in narrow    # node not known yet


def test_filters_keep_the_columns_of_a_bundled_study(bundled):
    """The columns come with the study: a filter that shows only unbundled steps keeps them."""
    out = run([bundled, "--step", "prep", "-w", "0"]).stdout
    assert cells(out, "prep")[:4] == ["prep", "101", "--", "--"]


def test_why_says_where_a_bundled_step_ran(bundled):
    out = run([bundled, "--why", "-n", "1", "--state", "FAILED"]).stdout
    assert f"  sim_X.2.Y.b: FAILED, exit code 2, job {FIRST}.sim_X.2.Y.b, allocation 5501 on node node02\n" in out


def test_maestro_status_shows_them(bundled):
    result = CliRunner().invoke(maestro, ["status", bundled], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert cells(result.stdout, "Step Name")[:4] == ["Step Name", "Job ID", "Allocation", "Node"]
    assert cells(result.stdout, "sim_X.1.Y.a")[2:4] == ["5501", "node01"]
    result = CliRunner().invoke(maestro, ["status", "--format", "json", bundled], catch_exceptions=False)
    assert {s["id"]: s.get("node") for s in json.loads(result.stdout)["steps"]}["sim_X.2.Y.b"] == "node02"


# ------------------------------------------------------------------ JSON, NDJSON, CSV
def test_json_step_records_carry_the_fields_where_known(bundled):
    doc = json.loads(run([bundled, "-f", "json"]).stdout)
    jsonschema.validate(doc, schema())
    assert doc["version"] == 1
    where = {s["id"]: (s.get("alloc"), s.get("node")) for s in doc["steps"]}
    assert where == {"prep": (None, None), "sim_X.1.Y.a": ("5501", "node01"),
                     "sim_X.2.Y.b": ("5501", "node02"), "sim_X.3.Y.c": ("5502", None), "post": (None, None)}
    steps = {s["id"]: s for s in doc["steps"]}
    assert "alloc" not in steps["prep"] and "node" not in steps["prep"] and "node" not in steps["sim_X.3.Y.c"]
    assert steps["sim_X.1.Y.a"]["job_id"] == f"{FIRST}.sim_X.1.Y.a"
    records = [json.loads(line) for line in run([bundled, "-f", "ndjson"]).stdout.splitlines()]
    assert [(r["id"], r.get("alloc"), r.get("node")) for r in records] == [(i, *where[i]) for i in IDS]


def test_the_report_schema_refuses_bundle_fields_of_another_type(bundled):
    doc = json.loads(run([bundled, "-f", "json"]).stdout)
    doc["steps"][1]["node"] = 7
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema())


def test_csv_is_status_csv_with_allocation_and_node_at_the_end(bundled):
    out = run([bundled, "-f", "csv"]).stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [*COLUMNS, "Allocation", "Node"]
    maestros = list(csv.reader(io.StringIO(status_csv(json.load(open(f"{bundled}/dag.json"))["steps"],
                                                       read_state(bundled)["steps"], NOW))))
    assert [r[:-2] for r in rows] == maestros       # Maestro's columns as they are
    assert {r[0]: r[-2:] for r in rows[1:]} == {"prep": ["--", "--"], "sim_X.1.Y.a": ["5501", "node01"],
                                                "sim_X.2.Y.b": ["5501", "node02"], "sim_X.3.Y.c": ["5502", "--"],
                                                "post": ["--", "--"]}
    failed = list(csv.reader(io.StringIO(run([bundled, "-f", "csv", "--state", "failed"]).stdout)))
    assert failed[1][0] == "sim_X.2.Y.b" and failed[1][10] == "X:2;Y:b" and failed[1][11:] == ["5501", "node02"]


def test_csv_cells_of_crafted_bundle_fields_are_neither_formulas_nor_controls(rendered, tmp_path):  # noqa: F811
    root = make(rendered, tmp_path, {**BUNDLED, "sim_X.1.Y.a": {**BUNDLED["sim_X.1.Y.a"], "node": "=cmd|\x1b[2J"}})
    rows = list(csv.reader(io.StringIO(run([root, "-f", "csv"]).stdout)))
    assert {r[0]: r[-1] for r in rows}["sim_X.1.Y.a"] == "'=cmd|\\x1b[2J"
    assert "\x1b" not in run([root, "-w", "0"]).stdout and "\x1b" not in run([root, "--layout", "narrow"]).stdout


def test_with_reused_steps_the_bundle_columns_come_before_reused_from(rendered, tmp_path):  # noqa: F811
    reused = {**BUNDLED, "prep": {**MIXED["prep"], "job_id": None,
                                  "reused_from": {"study": "/old", "step": "prep", "job_id": "7"}}}
    root = make(rendered, tmp_path, reused)
    header = list(csv.reader(io.StringIO(run([root, "-f", "csv"]).stdout)))[0]
    assert header[-4:] == ["Params", "Allocation", "Node", "Reused From"]
    out = run([root, "-w", "0"]).stdout
    assert cells(out, "Step Name")[:4] == ["Step Name", "Job ID", "Allocation", "Node"]
    assert cells(out, "Step Name")[-1] == "Reused From" and cells(out, "prep")[-1] == "/old"
    narrow = run([root, "--layout", "narrow", "-w", "0"]).stdout
    assert "  STEP:        prep\n  WORKSPACE:   prep\n  REUSED FROM: /old\n" in narrow


# ------------------------------------------------------------------ without bundles: as before
EVERY_OUTPUT = [["-w", "0"], ["-w", "120"], ["--layout", "narrow", "-w", "0"], ["--layout", "legacy"],
                ["-f", "md", "--why"], ["--why", "-w", "0"], ["-f", "json", "--why"], ["-f", "ndjson"],
                ["-f", "csv"], ["--summary"]]


def test_a_study_without_bundled_steps_looks_exactly_as_before(rendered, tmp_path):  # noqa: F811
    """No alloc anywhere (absent, or null as the schema allows): the output of every format and
    layout is the same bytes as for the study without the fields (goldens pin those)."""
    plain = make(rendered, tmp_path, MIXED, name="plain")
    nulls = make(rendered, tmp_path, {i: {**MIXED[i], "alloc": None, "node": None} for i in IDS}, name="nulls")
    for args in EVERY_OUTPUT:
        assert run([nulls, *args]).stdout.replace(nulls, plain) == run([plain, *args]).stdout, args
    out = run([plain, "-w", "0"]).stdout
    assert "Allocation" not in out and cells(out, "Step Name") == list(TABLE_COLUMNS)
    assert list(csv.reader(io.StringIO(run([plain, "-f", "csv"]).stdout)))[0] == list(COLUMNS)
    doc = json.loads(run([plain, "-f", "json"]).stdout)
    assert not any({"alloc", "node"} & set(s) for s in doc["steps"])


# ------------------------------------------------------------------ the contract
def test_the_state_schema_documents_the_optional_step_fields():
    state = json.loads(resources.files("mshared").joinpath("schemas/state.v1.schema.json").read_text())
    step = state["$defs"]["step"]
    assert state["properties"]["version"] == {"const": 1}
    for field in ("alloc", "node"):
        assert step["properties"][field]["type"] == ["string", "null"] and step["properties"][field]["description"]
        assert field not in step["required"]
    entry = {"state": "RUNNING", "job_id": f"{FIRST}.sim", "jobs": [f"{FIRST}.sim"], "attempts": 1, "restarts": 0,
             "submitted": None, "started": None, "ended": None, "exit_code": None, "reason": None,
             "not_before": None, "intent": None}
    whole = {"$schema": state["$schema"], "$defs": state["$defs"], "$ref": "#/$defs/step"}
    jsonschema.validate({**entry, "alloc": "5501", "node": "node01"}, whole)
    jsonschema.validate({**entry, "alloc": "5501", "node": None}, whole)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**entry, "alloc": 5501}, whole)


def test_the_docs_name_the_fields():
    report = (DOCS / "mreport.md").read_text()
    assert "Allocation" in report and "`alloc`" in report and "`node`" in report
    contracts = (DOCS / "contracts.md").read_text()
    assert '"alloc"' in contracts and '"node"' in contracts
