"""A pgen file is the user's Python: whatever it does, mexpand's stdout is the DAG and a failure
is one line naming the pgen, exit 65 (issue 15, F9).

Maestro pgens often print.  Observed before the fix: `print()` went into the DAG (`mexpand --pgen
| mrender` failed "not valid JSON"), `sys.exit(3)` ended mexpand with 3 and no message, a value
whose `__str__` raises gave "internal error", NaN became `null` while the command said `nan`,
and an integer beyond 64 bits was blamed on "a number in the spec".  Through the installed
commands (`mexpand`, `maestro run -n`), so that writes to file descriptor 1 are caught too.
"""

import json
import subprocess

import pytest

from reliability_helpers import STRESS, one_line_error, tool

SPEC = """description: {name: pg, description: d}
study:
  - {name: a, description: d, run: {cmd: "echo $(P)"}}
"""
GEN = """
import os, sys, subprocess
from maestrowf.datastructures.core import ParameterGenerator

def get_custom_generator(env, **kwargs):
    p = ParameterGenerator()
%s
    p.add_parameter("P", VALUES, "P.%%%%")
    AFTER
    return p
"""
VALUES = "    VALUES = [1, 2]"
NOISY = {
    "print": 'print("generating parameters...")',
    "print at import": None,     # see below: a print at module level
    "write to fd 1": 'os.write(1, b"raw bytes on fd 1\\n")',
    "a child writes to stdout": 'subprocess.run(["echo", "child output"])',
    "sys.__stdout__ without flush": 'sys.__stdout__.write("buffered\\n")',
}
FAILING = {
    "sys.exit(3)": ("sys.exit(3)", "called sys.exit(3)"),
    "sys.exit('bye')": ("sys.exit('bye')", "called sys.exit(bye)"),
    "SystemExit(None)": ("raise SystemExit", "called sys.exit(None)"),
    "a BaseException": ("raise GeneratorExit('x')", "failed: GeneratorExit"),
    "an exception whose __str__ raises": (
        "class E(Exception):\n        def __str__(self): raise ValueError('no')\n    raise E()",
        "failed: E: (cannot be shown"),
    "a value whose __str__ raises": (
        "class V:\n        def __str__(self): raise ValueError('no')\n    VALUES = [V()]",
        "a value of type V"),
    "a name whose __str__ raises": (
        "class N:\n        def __str__(self): raise ValueError('no')\n    AFTER = lambda: p.names.update(P=N())",
        "failed: ValueError: no"),
    "a value of another type": ("class V:\n        pass\n    VALUES = [V()]", "a value of type V"),
    "NaN": ("VALUES = [float('nan')]", "finite"),
    "infinity": ("VALUES = [1, float('inf')]", "finite"),
    "an integer of 100 bits": ("VALUES = [2 ** 100]", "too large for the DAG"),
    "1,000,001 combinations": ("VALUES = range(1_000_001)", "more than the 1,000,000"),
    "a syntax error": ("x = (", "SyntaxError"),
    "deep recursion": ("def f(): return f()\n    f()", "RecursionError"),
}


def _pgen(tmp_path, body: str, module_level: str = "") -> str:
    path = tmp_path / "gen.py"
    text = GEN % (VALUES + "\n    " + body if body else VALUES)
    after = "AFTER()" if "AFTER =" in body else "pass"
    path.write_text(module_level + text.replace("    AFTER\n", f"    {after}\n"))
    return str(path)


def _commands(tmp_path, pgen):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    yield "mexpand", [tool("mexpand"), "--pgen", pgen, str(spec)]
    if STRESS:
        yield "maestro run", [tool("maestro"), "run", "-n", "--pgen", pgen, "-o", str(tmp_path / "out"), str(spec)]


@pytest.mark.parametrize("case", list(NOISY))
def test_what_a_pgen_prints_goes_to_stderr_and_the_dag_stays_whole(tmp_path, case):
    body = NOISY[case] or ""
    pgen = _pgen(tmp_path, body, 'print("hello from module level")\n' if NOISY[case] is None else "")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    proc = subprocess.run([tool("mexpand"), "--pgen", pgen, str(spec)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    dag = json.loads(proc.stdout)            # stdout is the DAG alone
    assert [s["params"]["P"] for s in dag["steps"]] == [1, 2]
    noise = {"print": "generating", "print at import": "hello from module level", "write to fd 1": "raw bytes",
             "a child writes to stdout": "child output", "sys.__stdout__ without flush": "buffered"}[case]
    assert noise in proc.stderr      # (the DAG holds the pgen's text: the JSON parse above is the check)
    rendered = subprocess.run([tool("mrender"), "-o", str(tmp_path / "study")], input=proc.stdout,
                              capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert rendered.returncode == 0, rendered.stderr


@pytest.mark.parametrize("case", list(FAILING))
def test_whatever_a_pgen_raises_is_one_line_naming_it(tmp_path, case):
    body, expected = FAILING[case]
    pgen = _pgen(tmp_path, body)
    for name, argv in _commands(tmp_path, pgen):
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120)
        print(f"\npgen {case}: {name} exit {proc.returncode}: {proc.stderr.strip()[:200]}")
        assert proc.returncode == 65 and proc.stdout == ""
        line = one_line_error(proc.stderr, name)
        assert f"pgen file {pgen}" in line
        if expected:
            assert expected in line


def test_ctrl_c_in_a_pgen_is_an_interruption(tmp_path):
    pgen = _pgen(tmp_path, "raise KeyboardInterrupt")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    proc = subprocess.run([tool("mexpand"), "--pgen", pgen, str(spec)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 130 and proc.stderr == "mexpand: interrupted\n" and proc.stdout == ""


@pytest.mark.parametrize("value", [".nan", ".inf", "-.Inf"])
def test_non_finite_numbers_in_a_spec_are_refused(tmp_path, value):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC + f"global.parameters:\n  P: {{values: [1, {value}], label: P.%%}}\n")
    proc = subprocess.run([tool("mexpand"), str(spec)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 65
    assert "not a finite number" in one_line_error(proc.stderr, "mexpand")
