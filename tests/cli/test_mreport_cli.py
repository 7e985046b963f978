"""mreport's command line: every format, filters, --why, --check, errors, and that it only reads."""

import csv
import io
import json
import os
import shutil
from datetime import datetime, timezone
from importlib import resources

import jsonschema
import pytest
from click.testing import CliRunner

from mreport.cli import main
from mshared.conductor import write_pid
from mshared.statefile import lock_study, read_state, write_state
from mshared.statusrows import status_csv
from pipeline_helpers import make_study

NOW = "2026-11-25T12:00:00Z"
SPEC = """
description: {name: demo, description: mreport tests}
study:
  - {name: prep, description: d, run: {cmd: echo prep}}
  - {name: sim, description: d, run: {cmd: "echo $(X) $(Y)", depends: [prep]}}
  - {name: post, description: d, run: {cmd: echo post, depends: [sim_*]}}
global.parameters:
  X: {values: [1, 2, 3], label: X.%%}
  Y: {values: [a, b, c], label: Y.%%}
"""
IDS = ["prep", "sim_X.1.Y.a", "sim_X.2.Y.b", "sim_X.3.Y.c", "post"]


def _done(job, sub, start, end, code=0, state="FINISHED", reason=None):
    return {"state": state, "job_id": job, "jobs": [job], "attempts": 1, "submitted": sub,
            "started": start, "ended": end, "exit_code": code, "reason": reason}


# a study half way: prep and one sim done, one sim failed (with stderr), one running
MIXED = {
    "prep": _done("101", "2026-11-25T10:00:05Z", "2026-11-25T10:00:06Z", "2026-11-25T10:01:06Z"),
    "sim_X.1.Y.a": _done("102", "2026-11-25T10:02:00Z", "2026-11-25T10:02:30Z", "2026-11-25T11:02:30Z"),
    "sim_X.2.Y.b": _done("103", "2026-11-25T10:02:00Z", "2026-11-25T10:03:00Z", "2026-11-25T10:04:01Z",
                         code=2, state="FAILED", reason="exit code 2"),
    "sim_X.3.Y.c": {"state": "RUNNING", "job_id": "104", "jobs": ["104"], "attempts": 1, "restarts": 1,
                    "submitted": "2026-11-25T10:02:00Z", "started": "2026-11-25T11:30:00Z"},
    "post": {},
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    base = tmp_path_factory.mktemp("rendered")
    return make_study(base, SPEC)


@pytest.fixture(autouse=True)
def fixed_tz():
    """Local time is UTC-5 (a POSIX TZ string: no tz database needed)."""
    import time

    old = os.environ.get("TZ")
    os.environ["TZ"] = "EST+5"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def make(rendered, tmp_path, steps=MIXED, name="study") -> str:
    """A copy of the rendered study with ``steps`` (id -> entry fields) written into its state."""
    root = str(tmp_path / name)
    shutil.copytree(rendered, root)
    with open(os.path.join(root, "state.json.lock"), "wb") as handle:   # as if rendered here
        handle.write(os.fsencode(root) + b"\n")
    write_pid(root)     # monitored by a live conductor: this test process stands in for it
    state = read_state(root)
    state["study"]["created"] = "2026-11-25T10:00:00Z"
    for sid, fields in steps.items():
        state["steps"][sid].update(fields)
    write_state(root, state)
    bad = os.path.join(root, "sim", "X.2.Y.b")
    with open(os.path.join(bad, "sim_X.2.Y.b.103.err"), "w") as handle:
        handle.write("".join(f"problem {i}\n" for i in range(1, 16)))
    return root


def run(args, code=0):
    result = CliRunner().invoke(main, ["--now", NOW, *args], catch_exceptions=False)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def schema():
    return json.loads(resources.files("mshared").joinpath("schemas/report.v1.schema.json").read_text())


# ------------------------------------------------------------------ formats
def test_table_has_summary_title_and_maestros_columns(rendered, tmp_path):
    root = make(rendered, tmp_path)
    out = run([root, "-w", "0"]).stdout
    lines = out.splitlines()
    assert lines[0] == (f"demo ({root}): RUNNING, elapsed 0d:02h:00m:00s; 5 steps: 1 INITIALIZED, "
                        "1 RUNNING, 2 FINISHED, 1 FAILED")
    assert f"Study: {root}" in lines[3]
    assert [c.strip() for c in lines[5].split("|")[1:-1]] == [
        "Step Name", "Job ID", "Workspace", "State", "Run Time", "Elapsed Time", "Start Time",
        "Submit Time", "End Time", "Number Restarts"]
    failed = next(line for line in lines if "sim_X.2.Y.b" in line)
    # local time is UTC-5; durations as Maestro; a running step counts up to --now
    assert "| 2026-11-25 05:03:00 | 2026-11-25 05:02:00 | 2026-11-25 05:04:01 |" in failed
    assert "0d:00h:01m:01s" in failed and "0d:00h:02m:01s" in failed
    running = next(line for line in lines if "sim_X.3.Y.c" in line)
    assert "0d:00h:30m:00s" in running and "| 1  " in running


def test_json_document_validates_and_is_deterministic(rendered, tmp_path):
    root = make(rendered, tmp_path)
    first = run([root, "--format", "json"]).stdout_bytes
    assert first == run([root, "--format", "json"]).stdout_bytes
    doc = json.loads(first)
    jsonschema.validate(doc, schema())
    assert doc["schema"] == "maestro.report" and doc["version"] == 1 and doc["generated"] == NOW
    assert [s["id"] for s in doc["steps"]] == IDS
    assert doc["summary"] == {"status": "RUNNING", "total": 5, "selected": 5, "created": "2026-11-25T10:00:00Z",
                              "last_end": "2026-11-25T11:02:30Z", "elapsed_seconds": 7200,
                              "counts": {"INITIALIZED": 1, "RUNNING": 1, "FINISHED": 2, "FAILED": 1}}
    bad = doc["steps"][2]
    assert bad["exit_code"] == 2 and bad["run_seconds"] == 61 and bad["elapsed_seconds"] == 121
    assert bad["params"] == {"X": 2, "Y": "b"} and bad["workspace"] == "sim/X.2.Y.b" and "why" not in bad
    assert doc["steps"][4]["submitted"] is None and doc["steps"][4]["run_seconds"] is None


def test_ndjson_is_one_step_a_line_with_the_study(rendered, tmp_path):
    root = make(rendered, tmp_path)
    records = [json.loads(line) for line in run([root, "-f", "ndjson"]).stdout.splitlines()]
    assert [r["id"] for r in records] == IDS and {r["study"] for r in records} == {root}
    summary = [json.loads(line) for line in run([root, "-f", "ndjson", "--summary"]).stdout.splitlines()]
    assert summary == [{"study": root, "name": "demo", **json.loads(run([root, "-f", "json"]).stdout)["summary"]}]


def test_csv_is_maestros_status_csv(rendered, tmp_path):
    root = make(rendered, tmp_path)
    out = run([root, "--format", "csv"]).stdout
    assert out.splitlines()[0] == ("Step Name,Job ID,Workspace,State,Run Time,Elapsed Time,Start Time,"
                                   "Submit Time,End Time,Number Restarts,Params")
    dag = json.load(open(os.path.join(root, "dag.json")))
    now = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    assert out == status_csv(dag["steps"], read_state(root)["steps"], now)
    rows = list(csv.reader(io.StringIO(run([root, "-f", "csv", "--state", "failed"]).stdout)))
    assert [r[0] for r in rows] == ["Step Name", "sim_X.2.Y.b"] and rows[1][10] == "X:2;Y:b"


def test_markdown_table(rendered, tmp_path):
    root = make(rendered, tmp_path)
    lines = run([root, "-f", "md"]).stdout.splitlines()
    assert lines[0] == f"## Study: {root}"
    assert lines[4].startswith("| Step Name | Job ID |") and lines[5] == "|" + "---|" * 10
    assert len([line for line in lines if line.startswith("| ")]) == 6


def test_dot_colours_by_state_and_keeps_chosen_edges(rendered, tmp_path):
    root = make(rendered, tmp_path)
    out = run([root, "-f", "dot"]).stdout
    assert out.startswith('digraph "demo" {')
    assert '"sim_X.2.Y.b" [label="sim_X.2.Y.b", fillcolor=lightcoral, tooltip="FAILED"];' in out
    assert '"prep" -> "sim_X.1.Y.a";' in out
    only = run([root, "-f", "dot", "--step", "sim"]).stdout
    assert '"prep"' not in only and "->" not in only and only.count("fillcolor=") == 4  # 3 + node default


# ------------------------------------------------------------------ finding things
def test_state_and_step_filters(rendered, tmp_path):
    root = make(rendered, tmp_path)
    ids = lambda *a: [r["id"] for r in map(json.loads, run([root, "-f", "ndjson", *a]).stdout.splitlines())]  # noqa: E731
    assert ids("--state", "FAILED", "--state", "running") == ["sim_X.2.Y.b", "sim_X.3.Y.c"]
    assert ids("--step", "sim") == IDS[1:4]
    assert ids("--step", "prep", "--step", "sim_X.3.Y.c") == ["prep", "sim_X.3.Y.c"]
    assert ids("--step", "*X.[12]*") == ["sim_X.1.Y.a", "sim_X.2.Y.b"]
    assert ids("--step", "sim", "--state", "FINISHED") == ["sim_X.1.Y.a"]
    line = run([root, "--summary", "--step", "sim"]).stdout
    assert line.endswith("; 3 chosen\n") and "5 steps" in line


def test_group_by_counts_states_per_value(rendered, tmp_path):
    root = make(rendered, tmp_path)
    doc = json.loads(run([root, "-f", "json", "--group-by", "X"]).stdout)
    jsonschema.validate(doc, schema())
    assert "steps" not in doc and doc["group_by"] == ["X"]
    assert doc["groups"] == [
        {"values": {"X": None}, "total": 2, "counts": {"INITIALIZED": 1, "FINISHED": 1}},
        {"values": {"X": 1}, "total": 1, "counts": {"FINISHED": 1}},
        {"values": {"X": 2}, "total": 1, "counts": {"FAILED": 1}},
        {"values": {"X": 3}, "total": 1, "counts": {"RUNNING": 1}}]
    rows = run([root, "-f", "csv", "-g", "X", "-g", "Y", "--step", "sim"]).stdout.splitlines()
    assert rows == ["X,Y,Steps,RUNNING,FINISHED,FAILED", "1,a,1,0,1,0", "2,b,1,0,0,1", "3,c,1,1,0,0"]
    table = run([root, "-g", "Y", "--step", "sim"]).stdout
    assert "Steps by Y" in table and "| b " in table


def test_group_by_an_unknown_parameter_is_a_usage_error(rendered, tmp_path):
    root = make(rendered, tmp_path)
    result = run([root, "-g", "Z"], code=2)
    assert result.stderr == ("mreport: error: --group-by Z: no chosen step uses this parameter; the "
                             "study's parameters are: X, Y\n")


def test_why_shows_exit_code_reason_and_the_end_of_stderr(rendered, tmp_path):
    root = make(rendered, tmp_path)
    out = run([root, "--why", "-n", "2", "--state", "FAILED"]).stdout
    assert out.endswith("Why:\n  sim_X.2.Y.b: FAILED, exit code 2, job 103\n"
                        "    stderr sim/X.2.Y.b/sim_X.2.Y.b.103.err (last 2 lines):\n"
                        "      problem 14\n      problem 15\n")
    doc = json.loads(run([root, "--why", "-f", "json"]).stdout)
    jsonschema.validate(doc, schema())
    why = [s.get("why") for s in doc["steps"]]
    assert why[:2] == [None, None] and why[3:] == [None, None]
    assert why[2] == {"exit_code": 2, "reason": "exit code 2", "stderr": "sim/X.2.Y.b/sim_X.2.Y.b.103.err",
                      "tail": [f"problem {i}" for i in range(6, 16)]}


def test_why_falls_back_to_the_newest_err_file(rendered, tmp_path):
    root = make(rendered, tmp_path)
    workspace = os.path.join(root, "sim", "X.2.Y.b")
    os.rename(os.path.join(workspace, "sim_X.2.Y.b.103.err"), os.path.join(workspace, "sim_X.2.Y.b.err"))
    out = run([root, "--why", "-n", "1", "-f", "ndjson", "--state", "FAILED"]).stdout
    assert json.loads(out)["why"]["stderr"] == "sim/X.2.Y.b/sim_X.2.Y.b.err"


# ------------------------------------------------------------------ --check
@pytest.mark.parametrize("steps, code", [
    ({sid: _done("1", NOW, NOW, NOW) for sid in IDS}, 0),
    ({sid: {"state": "DRYRUN"} for sid in IDS}, 0),
    (MIXED, 3),
    ({**MIXED, "sim_X.3.Y.c": _done("104", NOW, NOW, NOW),
      "post": {"state": "FAILED", "ended": NOW, "reason": "parent 'sim_X.2.Y.b' failed"}}, 4),
])
def test_check_exit_codes(rendered, tmp_path, steps, code):
    root = make(rendered, tmp_path, steps)
    assert run([root, "--check"], code=code).stdout.startswith("demo (")
    assert run([root, "--check", "--quiet"], code=code).stdout == ""


def test_check_applies_to_the_chosen_steps(rendered, tmp_path):
    root = make(rendered, tmp_path)
    run([root, "--check", "-q", "--state", "FAILED"], code=4)     # fail fast: something failed
    run([root, "--check", "-q", "--step", "prep"], code=0)
    run([root, "--check", "-q", "--state", "TIMEDOUT"], code=0)    # nothing chosen


# ------------------------------------------------------------------ several studies, errors
def test_several_studies(rendered, tmp_path):
    one, two = make(rendered, tmp_path, name="one"), make(rendered, tmp_path, name="two")
    docs = run([one, two, "-f", "json"]).stdout.splitlines()
    assert [json.loads(d)["study"]["root"] for d in docs] == [one, two]
    assert run([one, two, "--summary"]).stdout.count("demo (") == 2
    assert "one STUDY_DIR" in run([one, two, "-f", "csv"], code=2).stderr


def test_not_a_study_is_65_with_one_line(tmp_path):
    result = run([str(tmp_path)], code=65)
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"mreport: error: {tmp_path}/state.json: no state file")
    missing = run([str(tmp_path / "nope")], code=65)
    assert missing.stderr == f"mreport: error: {tmp_path}/nope: not a directory; give a study directory made by mrender\n"


def test_a_bad_directory_does_not_hide_the_good_ones(rendered, tmp_path):
    root = make(rendered, tmp_path)
    result = run([str(tmp_path / "nope"), root, "--summary"], code=65)
    assert result.stdout.startswith("demo (")


def test_newer_versions_are_refused(rendered, tmp_path):
    root = make(rendered, tmp_path)
    state = read_state(root)
    state["version"] = 2
    write_state(root, state)
    assert "version 2 is newer" in run([root], code=65).stderr
    root = make(rendered, tmp_path, name="dagv2")
    import hashlib

    path = os.path.join(root, "dag.json")
    dag = json.load(open(path))
    dag["version"] = 2
    data = json.dumps(dag).encode()
    open(path, "wb").write(data)
    state = read_state(root)
    state["study"]["dag_sha256"] = hashlib.sha256(data).hexdigest()
    write_state(root, state)
    assert "maestro.dag version 2 is newer" in run([root], code=65).stderr
    assert run([root, "--summary"]).exit_code == 0    # the summary needs only the state


def test_a_dag_edited_by_hand_is_refused(rendered, tmp_path):
    root = make(rendered, tmp_path)
    with open(os.path.join(root, "dag.json"), "ab") as handle:
        handle.write(b" ")
    assert "does not match state.json" in run([root], code=65).stderr


@pytest.mark.parametrize("args", [["--why", "-f", "csv"], ["--why", "--summary"], ["--summary", "-g", "X"],
                                  ["-f", "dot", "--summary"], ["-f", "csv", "--summary"]])
def test_options_that_do_not_go_together(rendered, tmp_path, args):
    assert "Error:" in run([make(rendered, tmp_path), *args], code=2).stderr


# ------------------------------------------------------------------ read only
def _snapshot(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            info = os.stat(path)
            out[path] = (info.st_mtime_ns, info.st_size, info.st_mode)
    return out


def test_reports_never_change_the_study_and_need_no_lock(rendered, tmp_path):
    root = make(rendered, tmp_path)
    before = _snapshot(root)
    with lock_study(root):   # a monitor pass holding the lock does not block a report
        for args in ([], ["-l", "narrow"], ["-l", "legacy"], ["-f", "json", "--why"], ["-f", "ndjson"],
                     ["-f", "csv"], ["-f", "md", "--why"], ["-f", "dot"], ["-g", "X"], ["--summary"],
                     ["--check"], ["--pager"]):
            run([root, *args], code=3 if "--check" in args else 0)
    assert _snapshot(root) == before


def test_pager_output_is_the_same_text(rendered, tmp_path):
    root = make(rendered, tmp_path)
    assert run([root, "--pager", "-w", "0"]).stdout == run([root, "-w", "0"]).stdout


def test_docs_show_the_current_help(repo_root):
    help_text = CliRunner().invoke(main, ["--help"], terminal_width=100).output
    docs = (repo_root / "docs" / "mreport.md").read_text()
    assert f"```\n{help_text}```" in docs, "docs/mreport.md: paste the new `mreport --help` (100 columns)"


# ------------------------------------------------------------------ is anything monitoring it?
def test_a_running_study_without_a_conductor_says_so_in_the_table_layouts(rendered, tmp_path):
    """Issue 15, F13: after Ctrl-C on `maestro run -fg` or a SIGTERM to the conductor, status
    still said RUNNING with no sign that nothing was monitoring the study."""
    root = make(rendered, tmp_path)
    os.unlink(os.path.join(root, "conductor.pid"))
    line = (f"No conductor is running (no conductor.pid): unless mmonitor runs it from cron or with --loop, "
            f"nothing monitors this study; resume with: maestro conductor {root}")
    for args in (["-w", "0"], ["--summary"], ["-f", "md"], ["-l", "narrow"], ["-l", "legacy"]):
        assert line in run([root, *args]).stdout.splitlines(), args
    for args in (["-f", "json"], ["-f", "ndjson"], ["-f", "csv"], ["-f", "dot"]):
        assert "conductor" not in run([root, *args]).stdout, args
    with open(os.path.join(root, "conductor.pid"), "w") as handle:
        handle.write("999999999 1\n")                      # a pid that cannot exist
    assert "No conductor is running (pid 999999999 has ended)" in run([root, "--summary"]).stdout
    write_pid(root)
    assert "No conductor" not in run([root, "--summary"]).stdout
    finished = make(rendered, tmp_path, steps={i: {"state": "FINISHED"} for i in IDS}, name="done")
    os.unlink(os.path.join(finished, "conductor.pid"))
    assert "No conductor" not in run([finished, "--summary"]).stdout


def test_a_quiet_check_reads_state_json_only(rendered, tmp_path):
    """`mreport --check -q` is the answer alone: the state file gives it (issue 16.3: under 3 s at
    1,000,000 steps), so dag.json is not read; a missing one shows it."""
    root = make(rendered, tmp_path, MIXED)
    os.rename(os.path.join(root, "dag.json"), os.path.join(root, "dag.json.away"))
    run([root, "--check", "-q"], code=3)
    run([root, "--check"], code=65)                                   # the table needs the DAG
