"""Help texts and docs agree: every command has a page, and every option of it is documented."""

import importlib
import os

import click
import pytest

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs")
TOOLS = {"mexpand": "mexpand.cli", "mrender": "mrender.cli", "msubmit": "msubmit.cli",
         "mmonitor": "mmonitor.cli", "mreport": "mreport.cli", "maestro": "maestro_cli.cli"}


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
