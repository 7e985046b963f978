"""$(LAUNCHER) parsing and substitution (mruntime.scripts.launcher): every form, every error."""

import pytest

from mshared.errors import InvalidInput
from mruntime.scripts.launcher import parse_allocation, strip_launchers, substitute

STEP = {"id": "run_P.1"}


def fake(procs, nodes):
    return f"L(p={procs},n={nodes})"


def sub(text, procs=8, nodes=2):
    return substitute(text, STEP, procs, nodes, fake)


@pytest.mark.parametrize("alloc, expected", [
    ("2n, 8p", (2, 8)),
    ("8p, 2n", (2, 8)),
    ("8p", (None, 8)),
    (" 8p ", (None, 8)),
    ("2n,8p", (2, 8)),
    ("2, 8", (2, 8)),
    ("2,8", (2, 8)),
])
def test_parse_allocation_forms(alloc, expected):
    assert parse_allocation(alloc) == expected


@pytest.mark.parametrize("alloc, message", [
    ("2n", "Processors/tasks must be specified."),
    ("2n, 3n, 4p", "must only be specified once"),
    ("4p, 5p", "must only be specified once"),
    ("2x", "is not <count>n or <count>p"),
    ("", "is not <count>n or <count>p"),
    ("2, 8p", "is not <count>n or <count>p"),
])
def test_parse_allocation_errors(alloc, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_allocation(alloc)


def test_bare_launcher_gets_the_full_allocation():
    assert sub("$(LAUNCHER) app") == "L(p=8,n=2) app"


def test_text_without_launcher_is_unchanged():
    assert sub("echo hi") == "echo hi"


def test_bracket_forms_and_bare_token_together():
    # Maestro leaves the bare token literal when a bracket form is present; we replace it
    text = "$(LAUNCHER) a\n$(LAUNCHER)[1n, 4p] b\n$(LAUNCHER)[4p] c\n$(LAUNCHER)[1,2] d\n"
    assert sub(text, procs=10) == ("L(p=8,n=2) a\nL(p=4,n=1) b\nL(p=4,n=None) c\nL(p=2,n=1) d\n"
                                   .replace("L(p=8,n=2)", "L(p=10,n=2)"))


def test_bracket_ends_at_the_first_closing_bracket():
    assert sub("$(LAUNCHER)[2p] app [x] [y]") == "L(p=2,n=None) app [x] [y]"


def test_procs_only_step_bracket_without_nodes():
    assert sub("$(LAUNCHER)[1p] app", procs=1, nodes=None) == "L(p=1,n=None) app"


@pytest.mark.parametrize("text, message", [
    ("$(LAUNCHER)[4n, 1p] a", "attempting to allocate 4 nodes"),
    ("$(LAUNCHER)[9p] a", "attempting to allocate 9 procs"),
    ("$(LAUNCHER)[6p] a\n$(LAUNCHER)[6p] b", r"Total processors \(12\) requested exceeds the maximum requested \(8\)"),
    ("$(LAUNCHER)[2n, 1p] a\n$(LAUNCHER)[1n, 1p] b", r"Total nodes \(3\) requested exceeds the maximum requested \(2\)"),
    ("$(LAUNCHER)[2n] a", r"Processors/tasks must be specified\."),
    ("$(LAUNCHER)[0p] a", "at least one task"),
])
def test_errors_name_the_step(text, message):
    with pytest.raises(InvalidInput, match=message) as info:
        sub(text)
    assert str(info.value).startswith("step 'run_P.1': ")


def test_nodes_asked_but_step_has_none():
    with pytest.raises(InvalidInput, match="sets no run.nodes"):
        sub("$(LAUNCHER)[1n, 1p] a", procs=2, nodes=None)


def test_bare_launcher_needs_procs():
    with pytest.raises(InvalidInput, match="needs run.procs"):
        sub("$(LAUNCHER) a", procs=None, nodes=2)


def test_strip_launchers_for_local_steps():
    text = "$(LAUNCHER) a\n$(LAUNCHER)[2n, 4p] b\necho $(LAUNCHER)[1,1]c\nplain\n"
    assert strip_launchers(text) == "a\nb\necho c\nplain\n"
    assert strip_launchers("no token") == "no token"
