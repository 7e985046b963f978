"""Graphviz DOT for a DAG, optionally coloured by state (mexpand --format dot, mreport --format dot)."""

from .printable import visible

STATE_COLOURS = {
    "FINISHED": "palegreen", "RUNNING": "lightskyblue", "PENDING": "lightyellow",
    "QUEUED": "lightyellow", "WAITING": "lightyellow", "FINISHING": "lightskyblue",
    "FAILED": "lightcoral", "TIMEDOUT": "orange", "CANCELLED": "grey80", "HWFAILURE": "lightcoral",
    "UNKNOWN": "plum", "DRYRUN": "lightcyan", "INITIALIZED": "white",
}


def _quote(text: str) -> str:
    """A DOT string; control characters shown escaped, never raw (a DOT file is often cat)."""
    return '"' + visible(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def dag_to_dot(dag: dict, states: dict | None = None) -> bytes:
    """DOT text (bytes); ``states`` maps step id -> state to colour the nodes."""
    lines = [f"digraph {_quote(dag['study']['name'])} {{", "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fillcolor=white];']
    for step in dag["steps"]:
        attrs = f"label={_quote(step['id'])}"
        if states is not None:
            state = states.get(step["id"], "INITIALIZED")
            attrs += f", fillcolor={STATE_COLOURS.get(state, 'white')}, tooltip={_quote(state)}"
        lines.append(f"  {_quote(step['id'])} [{attrs}];")
    for step in dag["steps"]:
        for parent in step["depends"]:
            lines.append(f"  {_quote(parent)} -> {_quote(step['id'])};")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")
