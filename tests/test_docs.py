"""Help texts and docs agree: every command has a page, and every option of it is documented."""

import importlib
import os

import click
import pytest

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs")
TOOLS = {"mexpand": "mexpand.cli", "mrender": "mrender.cli", "msubmit": "msubmit.cli",
         "mmonitor": "mmonitor.cli", "mreport": "mreport.cli", "mextend": "mextend.cli",
         "maestro": "maestro_cli.cli"}


def commands():
    """(page, command name, click command) for every command and maestro sub-command."""
    for tool, module in TOOLS.items():
        main = importlib.import_module(module).main
        if isinstance(main, click.Group):
            for name, sub in main.commands.items():
                yield tool, f"{tool} {name}", sub
        else:
            yield tool, tool, main


CASES = list(commands())


@pytest.mark.parametrize("page,name,command", CASES, ids=[c[1] for c in CASES])
def test_every_command_and_option_is_documented(page, name, command):
    path = os.path.join(DOCS, f"{page}.md")
    assert os.path.exists(path), f"docs/{page}.md is missing"
    text = open(path, encoding="utf-8").read()
    assert name in text, f"docs/{page}.md does not mention '{name}'"
    assert (command.help or "").strip(), f"'{name}' has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert any(opt in text for opt in param.opts), f"docs/{page}.md does not document {param.opts} of {name}"


def test_contracts_page_has_the_exit_code_table():
    text = open(os.path.join(DOCS, "contracts.md"), encoding="utf-8").read()
    for code in ("| 0 |", "| 2 |", "| 65 |", "| 69 |", "| 75 |"):
        assert code in text


def test_readme_gives_the_two_setup_commands():
    text = open(os.path.join(DOCS, "..", "README.md"), encoding="utf-8").read()
    assert "make install" in text and "make test" in text


# ------------------------------------------------------------------ docs/python-api.md
def _python_api() -> str:
    return open(os.path.join(DOCS, "python-api.md"), encoding="utf-8").read()


def test_the_python_api_example_runs_in_an_empty_directory(tmp_path):
    """The page's first example (expand, render, run to the end, read the status) works as shown."""
    import re
    import subprocess
    import sys

    example = re.search(r"```python\n(.*?)```", _python_api(), re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "FINISHED {'FINISHED': 2}\nHello, world!\n\n"
    assert proc.stderr == ""
    [study] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert re.fullmatch(r"hello_\d{8}-\d{6}", study.name)


def _shown(signature) -> str:
    """A signature as the page writes it: no annotations, functions by name."""
    import inspect

    params = []
    for p in signature.parameters.values():
        if p.default is not p.empty and callable(p.default):
            p = p.replace(default=_Named(p.default.__name__))
        params.append(p.replace(annotation=p.empty))
    return str(signature.replace(parameters=params, return_annotation=inspect.Signature.empty))


class _Named:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


def test_the_python_api_shows_the_signatures_of_the_code():
    import inspect
    import re

    shown = re.findall(r"`(m\w+(?:\.\w+)+)(\(.*?\))`", "\n".join(
        line for line in _python_api().splitlines() if line.startswith("### ")))
    assert len(shown) >= 15
    for dotted, params in shown:
        module, name = dotted.rsplit(".", 1)
        function = getattr(importlib.import_module(module), name)
        assert _shown(inspect.signature(function)) == params, f"docs/python-api.md: {dotted}{params}"


@pytest.mark.parametrize("tool,entry", [("mexpand", "mexpand.core.expand_file"), ("mrender", "mrender.core.write_study"),
                                        ("msubmit", "msubmit.core.submit_study"), ("mmonitor", "mmonitor.core.monitor_study"),
                                        ("mreport", "mreport.core.report_studies"), ("mextend", "mextend.core.extend_study"),
                                        ("maestro", "python-api.md")])
def test_each_tool_page_names_its_python_twin(tool, entry):
    text = open(os.path.join(DOCS, f"{tool}.md"), encoding="utf-8").read()
    assert entry in text and "python-api.md" in text, f"docs/{tool}.md: link its core ({entry}) and python-api.md"
    assert f"## {tool}" in _python_api() or tool == "maestro"


def test_every_schema_file_is_named_in_the_contracts_page():
    """A format is a contract: each schema in shared/schemas has its section in docs/contracts.md."""
    text = open(os.path.join(DOCS, "contracts.md"), encoding="utf-8").read()
    schemas = os.path.join(DOCS, "..", "shared", "schemas")
    for name in sorted(os.listdir(schemas)):
        if name.endswith(".schema.json"):
            assert f"shared/schemas/{name}" in text, f"docs/contracts.md does not name shared/schemas/{name}"
