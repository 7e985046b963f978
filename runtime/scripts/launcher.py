"""$(LAUNCHER) in step commands: the bare token and the bracket forms, checked against the step.

Forms (Maestro 1.2.1, schedulerscriptadapter._substitute_parallel_command):
  $(LAUNCHER)            the step's full allocation (procs, nodes, and per-scheduler extras)
  $(LAUNCHER)[2n, 8p]    2 nodes, 8 tasks for this command; the order is free
  $(LAUNCHER)[8p]        8 tasks, no node count
  $(LAUNCHER)[2,8]       legacy: nodes, procs
Each bracket names tasks ("Processors/tasks must be specified."), names nodes and tasks at most
once, and neither one command nor all of them together may ask for more than the step has
("Total processors (12) requested exceeds the maximum requested (8)").

Differences from Maestro, on purpose: a bare $(LAUNCHER) is replaced even when bracket forms are
present (Maestro leaves it literal, which breaks the script); the bracket ends at the first ']'
(Maestro's greedy match swallows everything up to the last ']' of the command); errors are raised
at render time, not by the conductor in the middle of a study.
"""

import re

from mshared.errors import InvalidInput

LAUNCHER = "$(LAUNCHER)"
_BRACKET = re.compile(r"\$\(LAUNCHER\)\[([^\]\n]*)\]")
_ANY_FORM = re.compile(r"\$\(LAUNCHER\)(?:\[[^\]\n]*\])? ?")
_LEGACY = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*$")
_PART = re.compile(r"^(\d+)\s*([np])$")


def parse_allocation(alloc: str) -> tuple[int | None, int]:
    """(nodes or None, procs) of a bracket's content; ValueError with Maestro's wording."""
    legacy = _LEGACY.match(alloc)
    if legacy:
        return int(legacy.group(1)), int(legacy.group(2))
    found: dict[str, int] = {}
    for part in alloc.split(","):
        match = _PART.match(part.strip())
        if not match:
            raise ValueError(f"Invalid allocation [{alloc}]: '{part.strip()}' is not <count>n or "
                             "<count>p (use [2n, 8p], [8p] or legacy [2,8])")
        count, kind = int(match.group(1)), match.group(2)
        if kind in found:
            raise ValueError(f"Invalid allocations specified ([{alloc}]). Number of nodes and/or "
                             "procs must only be specified once.")
        found[kind] = count
    if "p" not in found:
        raise ValueError(f"Invalid allocations specified ([{alloc}]). Processors/tasks must be "
                         "specified.")
    return found.get("n"), found["p"]


def strip_launchers(text: str) -> str:
    """Local steps run the command itself: every $(LAUNCHER) form (and one space after it) goes."""
    if LAUNCHER not in text:
        return text
    return _ANY_FORM.sub("", text)


def substitute(text: str, step: dict, procs: int | None, nodes: int | None, parallelize) -> str:
    """Replace every $(LAUNCHER) form in ``text`` for a scheduled ``step``.

    ``parallelize(procs, nodes)`` gives the scheduler's launcher command.  Raises InvalidInput
    naming the step when an allocation is malformed or larger than the step's.
    """
    if LAUNCHER not in text:
        return text
    where = f"step '{step['id']}'"
    total_nodes = total_procs = 0
    pieces: list[str] = []
    last = 0
    for match in _BRACKET.finditer(text):
        try:
            want_nodes, want_procs = parse_allocation(match.group(1))
        except ValueError as err:
            raise InvalidInput(f"{where}: {err}") from None
        if want_procs < 1 or (want_nodes is not None and want_nodes < 1):
            raise InvalidInput(f"{where}: {match.group(0)} must ask for at least one task and node")
        if want_nodes is not None and not nodes:
            raise InvalidInput(f"{where}: {match.group(0)} asks for {want_nodes} nodes, but the "
                               "step sets no run.nodes")
        if procs is None or want_procs > procs:
            raise InvalidInput(f"{where}: {match.group(0)} attempting to allocate {want_procs} procs "
                               f"for a parallel call with a maximum allocation of {procs or 0}")
        if want_nodes is not None and want_nodes > nodes:
            raise InvalidInput(f"{where}: {match.group(0)} attempting to allocate {want_nodes} nodes "
                               f"for a parallel call with a maximum allocation of {nodes}")
        total_procs += want_procs
        total_nodes += want_nodes or 0
        pieces.append(text[last:match.start()])
        pieces.append(parallelize(want_procs, want_nodes))
        last = match.end()
    if total_procs > (procs or 0):
        raise InvalidInput(f"{where}: Total processors ({total_procs}) requested exceeds the maximum "
                           f"requested ({procs})")
    if nodes and total_nodes > nodes:
        raise InvalidInput(f"{where}: Total nodes ({total_nodes}) requested exceeds the maximum "
                           f"requested ({nodes})")
    pieces.append(text[last:])
    text = "".join(pieces)
    if LAUNCHER in text:
        if not procs:
            raise InvalidInput(f"{where}: $(LAUNCHER) needs run.procs (the number of tasks); "
                               "Processors/tasks must be specified.")
        text = text.replace(LAUNCHER, parallelize(procs, nodes))
    return text
