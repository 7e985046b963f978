"""mexpand's command line: output, exit codes and one-line errors."""

import json
import textwrap

import pytest
from click.testing import CliRunner

from mexpand.cli import main

GOOD = """
description: {name: demo, description: d}
study:
  - {name: a, description: d, run: {cmd: "echo $(P)"}}
  - {name: b, description: d, run: {cmd: "echo done", depends: [a_*]}}
global.parameters:
  P: {values: [1, 2], label: P.%%}
"""


def run(args, input=None):
    return CliRunner().invoke(main, args, input=input, catch_exceptions=False)


def test_reads_stdin_and_writes_the_dag():
    result = run([], input=GOOD)
    assert result.exit_code == 0, result.stderr
    dag = json.loads(result.stdout)
    assert [s["id"] for s in dag["steps"]] == ["a_P.1", "a_P.2", "b"]
    assert result.stderr == ""


def test_output_is_byte_identical_across_runs(tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    assert run([str(spec)]).stdout_bytes == run([str(spec)]).stdout_bytes


def test_summary_goes_to_stderr():
    result = run(["--summary"], input=GOOD)
    assert "2 steps, 3 instances (a: 2, b: 1)" in result.stderr
    assert json.loads(result.stdout)["schema"] == "maestro.dag"


def test_dot_format():
    result = run(["--format", "dot"], input=GOOD)
    assert result.stdout.startswith('digraph "demo" {')
    assert '"a_P.1" -> "b";' in result.stdout


def test_pargs_without_pgen_is_a_usage_error():
    result = run(["--pargs", "A:1"], input=GOOD)
    assert result.exit_code == 2
    assert "--pargs needs --pgen" in result.stderr


def test_pgen_written_for_maestro_runs_without_maestrowf(tmp_path):
    pgen = tmp_path / "gen.py"
    pgen.write_text(textwrap.dedent("""
        from maestrowf.datastructures.core import ParameterGenerator

        def get_custom_generator(env, **kwargs):
            p = ParameterGenerator()
            n = int(kwargs.get("N", "2"))
            p.add_parameter("P", list(range(n)), "P.%%")
            return p
    """))
    result = run([str(tmp_path / "s.yaml"), "--pgen", str(pgen), "--pargs", "N: 3"],
                 input=None) if False else None
    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD)
    result = run([str(spec), "--pgen", str(pgen), "--pargs", "N: 3"])
    assert result.exit_code == 0, result.stderr
    dag = json.loads(result.stdout)
    assert [s["id"] for s in dag["steps"]] == ["a_P.0", "a_P.1", "a_P.2", "b"]
    assert dag["study"]["pgen"]["pargs"] == {"N": "3"}
    assert dag["study"]["pgen"]["filename"] == "gen.py"


def test_a_failing_pgen_is_one_clear_line(tmp_path):
    pgen = tmp_path / "gen.py"
    pgen.write_text("def get_custom_generator(env, **kwargs):\n    raise RuntimeError('no data')\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD)
    result = run([str(spec), "--pgen", str(pgen)])
    assert result.exit_code == 65
    assert result.stderr.strip().splitlines() == [f"mexpand: error: pgen file {pgen} failed: RuntimeError: no data"]


def test_typo_of_a_known_token_is_a_warning_only():
    result = run([], input=GOOD.replace("echo done", "echo $(p) $(date)").replace('"echo $(P)"', '"echo $(P) $(P.lable) $(OUTPUT_PAHT)"'))
    assert result.exit_code == 0
    assert "$(OUTPUT_PAHT) is not defined; did you mean $(OUTPUT_PATH)?" in result.stderr
    assert "$(date)" not in result.stderr


BAD_SPECS = {
    "yaml syntax": ("description: {name: x\n", "YAML syntax error at line 2"),
    "not a mapping": ("- a\n- b\n", "a study spec must be a YAML mapping"),
    "missing description": ("study: [{name: a, description: d, run: {cmd: x}}]\n", "'description' block is missing"),
    "missing study": ("description: {name: a, description: d}\n", "'study' block is missing"),
    "empty study": ("description: {name: a, description: d}\nstudy: []\n", "at least one step"),
    "unknown step key": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: x}, bad: 1}]\n",
                         "Unrecognized key 'bad' found in study step 'a'"),
    "unknown run key": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: x, bad: 1}}]\n",
                        "Unrecognized key 'bad' found in study step 'a'."),
    "missing step description": ("description: {name: a, description: d}\nstudy: [{name: a, run: {cmd: x}}]\n",
                                 "Key 'description' is missing from study step 'a'"),
    "empty cmd": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: ''}}]\n",
                  "empty string found as value for run.cmd"),
    "wrong type": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: x, nodes: two}}]\n",
                   "The value 'two' in field run.nodes of study step 'a' is not of type 'integer'"),
    "unequal lengths": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: $(X)}}]\n"
                        "global.parameters: {X: {values: [1, 2], label: X.%%}, Y: {values: [1], label: Y.%%}}\n",
                        "Global parameter 'Y' is not the same length as other parameters"),
    "unknown parent": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: x, depends: [nope]}}]\n",
                       "study step 'a' depends on 'nope', which is not a step in the study"),
    "duplicate depends": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: x}},"
                          " {name: b, description: d, run: {cmd: x, depends: [a, a]}}]\n",
                          "Non-unique step names in study step 'b'.run.depends."),
    "duplicate step": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: x}},"
                       " {name: a, description: d, run: {cmd: y}}]\n", "study step 'a' is defined twice"),
    "cycle": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: x, depends: [b]}},"
              " {name: b, description: d, run: {cmd: x, depends: [a]}}]\n", "dependencies form a cycle: "),
    "escaping step name": ("description: {name: a, description: d}\nstudy: [{name: '..', description: d, run: {cmd: x}}]\n",
                           "outside the study directory"),
    "absolute step name": ("description: {name: a, description: d}\nstudy: [{name: /etc/x, description: d, run: {cmd: x}}]\n",
                           "outside the study directory"),
    "dot label": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: $(X)}}]\n"
                  "global.parameters: {X: {values: ['..'], label: '%%'}}\n", "cannot name a workspace"),
    "duplicate variable": ("description: {name: a, description: d}\nenv: {variables: {A: 1}, labels: {A: 2}}\n"
                           "study: [{name: a, description: d, run: {cmd: x}}]\n", "Variable name 'A' is already taken"),
    "workspace before generated": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: $(b.workspace)}},"
                                   " {name: b, description: d, run: {cmd: x, depends: [a]}}]\n", "cycle"),
    "unknown scheduler": ("description: {name: a, description: d}\nbatch: {type: pbsx}\nstudy: [{name: a, description: d, run: {cmd: x}}]\n",
                          "batch.type 'pbsx' is not a known scheduler"),
    "unresolved resource": ("description: {name: a, description: d}\nstudy: [{name: a, description: d, run: {cmd: x, procs: $(N)}}]\n",
                            "run.procs is '$(N)' after substitution"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_specs_get_one_line_and_exit_65(case, tmp_path):
    text, expected = BAD_SPECS[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    result = run([str(spec)])
    assert result.exit_code == 65, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"mexpand: error: {spec}: "), lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
