"""DAGs and states made by hand, or by an attacker: nothing is ever written outside the study
directory, and every refusal is one line with exit 65 (issue 15, F3).

hypothesis takes a DAG from mexpand and replaces one field of one step (or of the study) with a
hostile value: paths that climb (`../`, absolute, empty components), control characters, quotes,
huge strings, values of the wrong type.  `mrender -o work/study` either renders it, with every new
path inside work/study, or refuses it with one `mrender: error:` line and exit 65; never a
traceback, never "internal error".  (A git dependency may name an absolute path outside the
study, as in Maestro: dependencies are left out.)  A crafted state is read by mreport the same
way: exit 0 or one line, exit 65.
"""

import copy
import json
import os

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from mexpand.core import expand
from mexpand.specload import load_yaml
from mreport.cli import main as mreport
from mrender.cli import main as mrender
from mshared.jsonio import dumps
from mshared.statefile import read_state, write_state

from reliability_helpers import tree

SPEC = """
description: {name: crafted, description: d}
study:
  - {name: a, description: d, run: {cmd: 'echo $(P) > $(WORKSPACE)/x', restart: 'echo r'}}
  - {name: b, description: d, run: {cmd: 'cat $(a.workspace)/x', depends: [a]}}
  - {name: c, description: d, run: {cmd: 'echo c', depends: [b_*], nodes: 1, procs: 1, walltime: '00:01:00'}}
global.parameters:
  P: {values: [1, 2], label: P.%%}
"""
PATHS = ["../x", "../../ESCAPED", "/tmp/ESCAPED", "a/../../b", "..", ".", "", ".hidden", "a//b", "a/", "/",
         "a\x00b", "a\x1bb", "a\x9bb", "a\nb", "a\\..\\b", "~/x", "-rf", "$(touch PWNED)", "`touch PWNED`", "a'b",
         'a"b', "x" * 300, "é" * 150, "a/" * 2000, "\u202eevil", "con", "a b", "*", "?"]
VALUES = st.one_of(st.sampled_from(PATHS), st.text(max_size=40), st.integers(-2 ** 63, 2 ** 63 - 1), st.none(),
                   st.booleans(),
                   st.floats(allow_nan=False), st.lists(st.sampled_from(PATHS), max_size=3),
                   st.dictionaries(st.sampled_from(PATHS + ["a", "b", "nodes"]), st.sampled_from(PATHS), max_size=2))
STEP_FIELDS = ["id", "step", "stem", "workspace", "workspace_refs", "depends", "resources", "cmd", "restart",
               "description", "params", "combo", "scheduled", "after_failed_parents"]
STUDY_FIELDS = ["name", "spec", "pgen", "batch", "output_path", "cwd", "specroot", "parameters", "hashws",
                "description"]


def _dag() -> dict:
    dag, _ = expand(load_yaml(SPEC, "s.yaml"), source="s.yaml", spec_text=SPEC, spec_path="/s/s.yaml",
                    specroot="/s", cwd="/s")
    return json.loads(dumps(dag))


BASE = _dag()


@st.composite
def crafted(draw):
    dag = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            step = dag["steps"][draw(st.integers(0, len(dag["steps"]) - 1))]
            field = draw(st.sampled_from(STEP_FIELDS))
            if field in ("workspace_refs", "resources", "params") and draw(st.booleans()):
                step[field] = {draw(st.sampled_from(["a", "nodes", "walltime", "qos", "P"])): draw(VALUES)}
            else:
                step[field] = draw(VALUES)
        else:
            study = dag["study"]
            field = draw(st.sampled_from(STUDY_FIELDS))
            if field in ("spec", "pgen", "batch") and draw(st.booleans()):
                key = draw(st.sampled_from(["filename", "text", "type", "shell", "queue", "host", "path"]))
                prior = study.get(field)
                study[field] = {**(prior if isinstance(prior, dict) else {}), key: draw(VALUES)}
            else:
                study[field] = draw(VALUES)
    return dag


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(dag=crafted())
def test_a_crafted_dag_renders_inside_the_study_or_is_one_line(tmp_path_factory, dag):
    base = tmp_path_factory.mktemp("crafted")
    work = base / "one" / "two" / "work"
    work.mkdir(parents=True)
    before = tree(base)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        result = CliRunner().invoke(mrender, ["-o", str(work / "study")], input=dumps(dag), prog_name="mrender")
    finally:
        os.chdir(cwd)
    outside = {p for p in tree(base) - before if not p.startswith("one/two/work/study")}
    assert not outside, (outside, result.stderr)
    assert result.exit_code in (0, 65), (result.exit_code, result.stderr, result.exception)
    if result.exit_code == 65:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("mrender: error: "), result.stderr
        assert "internal error" not in result.stderr
    else:
        assert result.stdout == f"{work / 'study'}\n"


STATE_FIELDS = ["state", "job_id", "jobs", "reason", "exit_code", "started", "ended", "submitted", "restarts",
                "attempts"]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(STATE_FIELDS), value=VALUES, args=st.sampled_from(
    [[], ["--why"], ["-f", "json", "--why"], ["-f", "csv"], ["-f", "md"], ["--summary"], ["-l", "narrow"]]))
def test_a_crafted_state_is_reported_or_refused_in_one_line(tmp_path_factory, field, value, args):
    base = tmp_path_factory.mktemp("state")
    result = CliRunner().invoke(mrender, ["-o", str(base / "study")], input=dumps(BASE))
    assert result.exit_code == 0, result.stderr
    root = str(base / "study")
    state = read_state(root)
    entry = state["steps"][BASE["steps"][0]["id"]]
    entry.update(state="FAILED", job_id="7", jobs=["7"], exit_code=1)
    entry[field] = value
    write_state(root, state)         # a hand edit with its checksum: taken as deliberate
    report = CliRunner().invoke(mreport, [root, *args], prog_name="mreport")
    assert report.exit_code in (0, 65), (report.exit_code, report.stderr, report.exception)
    if report.exit_code == 65:
        assert report.stderr.count("\n") == 1 and report.stderr.startswith("mreport: error: "), report.stderr
    assert not [c for c in report.stdout if ord(c) < 32 and c != "\n" or 0x7f <= ord(c) <= 0x9f]
