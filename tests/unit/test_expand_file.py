"""mexpand.core.expand_file: a spec file (or stdin) to a DAG, as the mexpand command makes it."""

import io
import subprocess
import sys

import pytest

from mexpand import core
from mshared.errors import InvalidInput
from mshared.jsonio import dumps

SPEC = """description: {name: gen, description: d}
env:
  variables: {OUTPUT_PATH: ./out}
global.parameters:
  X: {values: [1, 2], label: X.%%}
study:
  - {name: sim, description: d, run: {cmd: 'echo $(X) $(N)'}}
"""
PGEN = """
from maestrowf.datastructures.core import ParameterGenerator

def get_custom_generator(env, **kwargs):
    p = ParameterGenerator()
    p.add_parameter("N", list(range(int(kwargs["N"]))), "N.%%")
    return p
"""


@pytest.fixture
def files(tmp_path):
    spec, pgen = tmp_path / "s.yaml", tmp_path / "gen.py"
    spec.write_text(SPEC)
    pgen.write_text(PGEN)
    return tmp_path, str(spec), str(pgen)


def test_with_a_pgen_the_spec_is_validated_once(files, monkeypatch):
    tmp_path, spec, pgen = files
    calls = []
    real = core.validate_spec
    monkeypatch.setattr(core, "validate_spec", lambda *a: calls.append(a) or real(*a))
    dag, warnings = core.expand_file(spec, cwd=str(tmp_path), pgen=pgen, pargs=("N:3",))
    assert len(calls) == 1
    assert [s["id"] for s in dag["steps"]] == ["sim_N.0", "sim_N.1", "sim_N.2"]
    assert dag["study"]["pgen"]["pargs"] == {"N": "3"} and warnings == []


def test_the_dag_is_the_mexpand_commands(files):
    tmp_path, spec, pgen = files
    for args, kwargs in (([spec], {}), ([spec, "--pgen", pgen, "--pargs", "N:2"], {"pgen": pgen, "pargs": ("N:2",)})):
        out = subprocess.run([sys.executable, "-m", "mexpand", *args], capture_output=True, cwd=tmp_path,
                             check=True).stdout
        dag, _ = core.expand_file(spec, cwd=str(tmp_path), **kwargs)
        assert dumps(dag) == out


def test_stdin_and_its_errors(files):
    tmp_path, spec, _ = files
    text = open(spec, "rb").read()
    dag, _ = core.expand_file("-", cwd=str(tmp_path), stdin=io.BytesIO(text))
    assert dag["study"]["spec"]["path"] is None and dag["study"]["specroot"] == str(tmp_path)
    with pytest.raises(InvalidInput, match=r"^<stdin>: not UTF-8 text"):
        core.expand_file("-", cwd=str(tmp_path), stdin=io.BytesIO(b"\xff"))
    with pytest.raises(InvalidInput, match="cannot read the spec"):
        core.expand_file(str(tmp_path / "missing.yaml"), cwd=str(tmp_path))


def test_warnings_are_returned_not_printed(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(SPEC + "extra: 1\n")
    _, warnings = core.expand_file(str(tmp_path / "s.yaml"), cwd=str(tmp_path))
    assert any("unknown top-level block 'extra'" in w for w in warnings)
    assert capsys.readouterr() == ("", "")
