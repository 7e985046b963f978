"""mreport never passes terminal controls or spreadsheet formulas through (issue 15, F3, F15).

Parameter values, reasons, a job's stderr and the study's own path are user data: with ESC in them,
`mreport` coloured the terminal, retitled it (OSC) through `--why`, and `status.csv` and
`--format csv` wrote cells starting with `=`, `+`, `-` or `@` as they were.  A study directory
crafted by hand (dag.json and state.json with their checksums) can also carry ids with controls
and stems or job ids that climb out of the workspace.
"""

import csv
import io
import os

import pytest
from click.testing import CliRunner

from mreport.cli import main
from mshared.jsonio import dumps, loads
from mshared.statefile import read_state, write_state
from pipeline_helpers import make_study

OSC = "\x1b]0;pwned\x07"
SPEC = r"""
description: {name: "hostile\e[5m", description: d}
study:
  - {name: "=calc", description: d, run: {cmd: "echo $(V)", depends: []}}
  - {name: "-x", description: d, run: {cmd: "echo x"}}
global.parameters:
  V: {values: ["=cmd|' /C calc'!A0", "\e[31mred\x9b2J", "@SUM(1)"], label: [V.a, V.b, V.c]}
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    (base / "dir\x1b[2Jname").mkdir()
    root = make_study(base / "dir\x1b[2Jname", SPEC)
    state = read_state(root)
    for sid, entry in state["steps"].items():
        entry.update(state="FAILED", job_id="7", jobs=["7"], exit_code=1, ended="2026-11-25T10:00:00Z",
                     reason=f"exit code 1 {OSC}")
        dag = loads(open(os.path.join(root, "dag.json"), "rb").read())
        step = next(s for s in dag["steps"] if s["id"] == sid)
        with open(os.path.join(root, step["workspace"], f"{step['stem']}.7.err"), "w") as handle:
            handle.write(f"ok line\n{OSC}\ttabbed \x1b[31mred\n" + "y" * 5000 + "\n")
    write_state(root, state)
    return root


def run(args):
    result = CliRunner().invoke(main, ["--now", "2026-11-25T12:00:00Z", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("args", [["-w", "0"], ["--layout", "narrow"], ["--layout", "legacy"], ["-f", "md"],
                                  ["--why"], ["-f", "md", "--why"], ["--summary"], ["-g", "V"],
                                  ["-f", "md", "-g", "V"], ["-f", "csv"], ["-f", "csv", "-g", "V"],
                                  ["-f", "json", "--why"], ["-f", "ndjson"], ["-f", "dot"]])
def test_no_control_character_reaches_the_terminal(hostile, args):
    out = run([hostile, *args])
    assert not [c for c in out if (ord(c) < 32 and c != "\n") or 0x7f <= ord(c) <= 0x9f], args
    if "json" not in " ".join(args) and "dot" not in args:
        assert "\\x1b" in out    # shown, escaped


def test_why_caps_each_line_and_escapes_it(hostile):
    out = run([hostile, "--why", "-n", "3"])
    assert "\\x1b]0;pwned\\x07" in out and "tabbed \\x1b[31mred" in out
    longest = max(len(line) for line in out.splitlines() if "yyy" in line)
    assert 900 < longest < 1100 and "characters cut" in out


@pytest.mark.parametrize("args", [["-f", "csv"], ["-f", "csv", "-g", "V"]])
def test_csv_cells_are_never_formulas(hostile, args):
    rows = list(csv.reader(io.StringIO(run([hostile, *args]))))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or c[:1] == "-" and c not in ("--", "--:--:--")]
    assert any(c.startswith("'=calc") for c in cells) or "'=cmd|' /C calc'!A0" in cells


def test_status_csv_of_a_pass_is_neutralised_too(tmp_path):
    from mmonitor.core import monitor_loop

    root = make_study(tmp_path, SPEC)
    monitor_loop([root], interval=0.05)    # one value is a shell syntax error: FAILURE
    text = open(os.path.join(root, "status.csv"), encoding="utf-8").read()
    assert "\x1b" not in text and "\x9b" not in text
    assert "\n'=calc_V.a," in text and "\n'-x," in text and "V:\\x1b[31mred\\x9b2J" in text


def _crafted_study(hostile, tmp_path, change):
    """A copy of the study whose dag.json was edited and whose state records its checksum (a hand
    edit made deliberately: every tool trusts a DAG with the recorded checksum)."""
    import hashlib
    import shutil

    root = str(tmp_path / "crafted")
    shutil.copytree(hostile, root)
    dag = loads(open(os.path.join(root, "dag.json"), "rb").read())
    state = read_state(root)
    change(dag, state)
    data = dumps(dag)
    with open(os.path.join(root, "dag.json"), "wb") as handle:
        handle.write(data)
    state["study"]["dag_sha256"] = hashlib.sha256(data).hexdigest()
    state["study"]["root"] = root
    write_state(root, state)
    return root


@pytest.mark.parametrize("field,value", [("stem", "../../../../etc/passwd"), ("workspace", "../.."),
                                         ("job_id", "../../x")])
def test_why_never_reads_outside_a_crafted_study(hostile, tmp_path, field, value):
    def change(dag, state):
        sid = dag["steps"][0]["id"]
        if field == "job_id":
            state["steps"][sid]["job_id"] = value
        else:
            dag["steps"][0][field] = value

    root = _crafted_study(hostile, tmp_path, change)
    result = CliRunner().invoke(main, [root, "--why"], catch_exceptions=False)
    assert result.exit_code == 65 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and field.replace("_", " ") in result.stderr, result.stderr


def test_ids_with_controls_in_a_crafted_study_are_shown_escaped(hostile, tmp_path):
    def change(dag, state):
        old = dag["steps"][0]["id"]
        dag["steps"][0]["id"] = new = f"id{OSC}"
        state["steps"][new] = state["steps"].pop(old)

    root = _crafted_study(hostile, tmp_path, change)
    for args in (["-w", "0"], ["-f", "md"], ["--why"], ["-f", "csv"]):
        out = run([root, *args]).replace("\\\\", "\\")    # md doubles backslashes
        assert "\x1b" not in out and "id\\x1b]0;pwned\\x07" in out, args
