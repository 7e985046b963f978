"""A study's size is capped before anything large is built (issue 16.4), and running out of
memory is one clear line, never a segmentation fault or a traceback."""

import io
import time

import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from mexpand import core
from mexpand.cli import main as mexpand_main
from mexpand.specload import load_yaml
from mshared.contracts import dump_dag, write_dag
from mshared.errors import InvalidInput


def _spec(values: int, steps: int, uses: str = "$(X)") -> str:
    lines = ["description: {name: big, description: d}", "global.parameters:",
             f"  X: {{values: [{', '.join(str(i % 1000) for i in range(values))}], label: X.%%}}",
             f"  Y: {{values: [{', '.join(str(i) for i in range(values))}], label: Y.%%}}", "study:"]
    lines += [f"  - {{name: s{i}, description: d, run: {{cmd: 'echo {uses} $(Y)'}}}}" for i in range(steps)]
    return "\n".join(lines) + "\n"


def _expand(text: str, **kw):
    return core.expand(load_yaml(text, "s"), source="s", spec_text=text, spec_path=None, specroot="/", cwd="/", **kw)


def test_too_many_instances_are_refused_before_any_is_made():
    text = _spec(600_000, 4)                                 # 2.4 million instances
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match=r"2,400,000 step instances, more than the 2,000,000 allowed.*--max-instances"):
        _expand(text)
    assert time.perf_counter() - started < 20                # the combinations only, never the instances


def test_the_count_is_exact_when_steps_use_some_of_the_parameters():
    text = ("description: {name: sub, description: d}\nglobal.parameters:\n"
            "  X: {values: [1, 1, 1, 2, 2], label: X.%%}\n  Y: {values: [1, 2, 3, 4, 5], label: Y.%%}\nstudy:\n"
            "  - {name: a, description: d, run: {cmd: 'echo $(X)'}}\n"
            "  - {name: b, description: d, run: {cmd: 'echo $(Y)'}}\n")
    dag, _ = _expand(text, max_instances=7)                  # the quick bound says 10, the truth is 2 + 5
    assert len(dag["steps"]) == 7
    with pytest.raises(InvalidInput, match="7 step instances, more than the 6 allowed"):
        _expand(text, max_instances=6)


def test_the_cap_is_raised_on_the_command_line_and_in_the_environment(tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text(_spec(3, 2))                              # 6 instances
    refused = CliRunner().invoke(mexpand_main, [str(spec), "--max-instances", "5"])
    assert refused.exit_code == 65 and "more than the 5 allowed" in refused.stderr
    monkeypatch.setenv("MAESTRO_MAX_INSTANCES", "6")
    assert CliRunner().invoke(mexpand_main, [str(spec)]).exit_code == 0


def test_a_study_too_large_for_the_memory_limit_is_refused_with_one_line(monkeypatch):
    from mshared import memory

    monkeypatch.setattr(memory, "process_limit", lambda: 100 << 20)
    with pytest.raises(InvalidInput, match=r"need about .* GiB to expand, more than the 0.1 GiB this process may use"):
        _expand(_spec(50_000, 2))


def test_running_out_of_memory_is_one_line_and_exit_1(tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text(_spec(3, 1))

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(core, "_expand_valid", no_memory)
    result = CliRunner().invoke(mexpand_main, [str(spec)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "mexpand: error: out of memory" in result.stderr


@given(st.lists(st.dictionaries(st.sampled_from(["id", "cmd", "depends"]), st.text(max_size=5)), max_size=30),
       st.integers(1, 7))
def test_the_dag_written_in_chunks_is_the_dag_written_whole(steps, chunk):
    dag = {"schema": "maestro.dag", "steps": steps, "study": {"name": "x"}, "version": 1}
    out = io.BytesIO()
    write_dag(dag, out, "s", chunk=chunk)
    assert out.getvalue() == dump_dag(dag, "s")
