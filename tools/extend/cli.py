"""mextend: add parameter combinations to a live or finished study."""

import sys

import click

from mshared.clitools import CONTEXT_SETTINGS, default_sigpipe, info, stdout_bytes, tool_errors, without_cyclic_gc


@click.command(name="mextend", context_settings=CONTEXT_SETTINGS)
@click.argument("study_dir", type=click.Path(file_okay=False))
@click.argument("file", required=False, metavar="[FILE|-]")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv"]), default="auto", show_default=True,
              help="jsonl: one JSON object a line; csv: a header of parameter names, then values; auto: "
                   "CSV for a FILE named *.csv or a first line with commas that does not start with '{'.")
@click.option("--max-rounds", type=click.IntRange(min=1), metavar="N",
              help="Set the study's round limit (over the spec's extend.max_rounds).")
@click.option("--done", is_flag=True, help="Mark the study's loop done: an open study stops waiting for mextend.")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def main(study_dir, file, fmt, max_rounds, done):
    """Add parameter combinations from FILE (or stdin) to the study in STUDY_DIR, running or not.

    Each combination names every parameter of the study.  The new instances of the steps that use
    the parameters, and of the steps after them, get workspaces and scripts and are added to the
    study under its lock in one commit; a running loop submits them at once, and `mmonitor` or
    `maestro conductor` takes a finished study up again.  Prints one JSON line per instance
    added, or, for a combination the study has already, per instance it has ("added": false).

    \b
    Exit codes: 0 ok (also when nothing was new), 2 usage, 65 bad input (a line, an unknown or
    missing parameter, a value that is not a scalar), a cancelled study or one whose DAG changed,
    the round limit reached; 75 the study stayed locked.
    """
    from mshared.jsonio import dumps
    from mshared.studydir import study_root
    from mshared.times import utcnow

    from . import combos
    from .core import extend_study, set_limits

    root = study_root(study_dir)
    if file is None and (max_rounds is not None or done):
        for name, (old, new) in set_limits(root, max_rounds=max_rounds, done=done or None).items():
            info(f"{root}: {name.replace('_', ' ')}: {old} -> {new}")
        return
    source = "<stdin>" if file in (None, "-") else file
    if file in (None, "-"):
        if sys.stdin.isatty():
            info("reading combinations from stdin (one JSON object a line; Ctrl-D ends)")
        data = combos.read_limited(sys.stdin.buffer, source)
    else:
        data = _read(file)
    rows = combos.parse(data, source, fmt)
    if max_rounds is not None:
        set_limits(root, max_rounds=max_rounds)
    if not rows:
        info(f"{source}: no combination; nothing added")
    result = extend_study(root, rows, source=source, now=utcnow())
    stdout_bytes(b"".join(dumps(r) for r in result.records))
    for where, row, ids in result.duplicates:
        info(f"{where}: {dumps(row).decode().strip()} is in the study already ({', '.join(ids) or 'no instance'}); "
             "nothing added")
    added = sum(1 for r in result.records if r["added"])
    if result.round:
        info(f"{root}: round {result.round}: {added} instance(s) added")
    if done:
        set_limits(root, done=True)


def _read(path: str) -> bytes:
    from mshared.errors import InvalidInput

    from .combos import read_limited

    from mshared.reading import open_regular

    try:
        with open(open_regular(path, "the input"), "rb") as handle:   # never a FIFO or a device
            return read_limited(handle, path)
    except OSError as err:
        raise InvalidInput(f"{path}: cannot read: {err.strerror}") from None
