"""mrender: turn a DAG from mexpand into a study directory; print the directory on stdout."""

import os

import click

from mshared.clitools import CONTEXT_SETTINGS, default_sigpipe, stdout_bytes, tool_errors, without_cyclic_gc
from mshared.errors import InvalidInput


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("dag", default="-", metavar="[DAG|-]")
@click.option("-o", "--out", "out", type=click.Path(), metavar="DIR", help="Study directory, used as is (no timestamp). Default: <OUTPUT_PATH>/<name>_<YYYYmmdd-HHMMSS>.")
@click.option("--force", is_flag=True, help="If the directory exists and is not empty, move it aside to <DIR>.old-<timestamp> (nothing is deleted); never a study that has not ended or the current directory.")
@click.option("-t", "--throttle", type=click.IntRange(min=0), default=0, show_default=True, help="Most jobs in flight at once (0: no limit); stored in state.json.")
@click.option("-a", "--attempts", type=click.IntRange(min=1), default=1, show_default=True, help="Submission attempts per step before it is FAILED.")
@click.option("-r", "--rlimit", type=click.IntRange(min=0), default=1, show_default=True, help="Restarts after a timeout, for steps with restart (0: no limit).")
@click.option("-s", "--sleep", type=click.IntRange(min=1), default=60, show_default=True, help="Poll interval in seconds for the monitor.")
@click.option("--dry", is_flag=True, help="Mark the study as a dry run: msubmit will set steps to DRYRUN and run nothing.")
@click.option("--usetmp", is_flag=True, help="Write the step scripts to a new temporary directory instead of the workspaces (as Maestro's --usetmp).")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def main(dag, out, force, throttle, attempts, rlimit, sleep, dry, usetmp):
    """Render a DAG (from mexpand; - or nothing reads stdin) into a study directory.

    Creates one workspace per step instance with its script for the study's scheduler, copies of
    the spec and pgen file, dag.json, batch.info, meta/, logs/ and the initial state.json, then
    prints the study directory as one line.  Exit codes: 0 ok, 2 usage, 65 invalid DAG or
    occupied directory, 1 could not write.

    \b
    Example:
      msubmit "$(mexpand study.yaml | mrender)"
    """
    from mshared.contracts import parse_dag
    from mshared.times import utcnow

    from .core import target_root, write_study

    doc = parse_dag(_read(dag), "<stdin>" if dag == "-" else dag)
    now = utcnow()
    settings = {"throttle": throttle, "attempts": attempts, "rlimit": rlimit,
                "poll_interval": sleep, "dry": dry, "usetmp": usetmp}
    root = write_study(doc, target_root(doc, now, out), settings, now=now, force=force)
    stdout_bytes(os.fsencode(root) + b"\n")


def _read(dag: str) -> bytes:
    """The DAG's bytes: a regular file or stdin, at most MAX_DAG_BYTES (an endless input, a FIFO
    or a device is refused in one line)."""
    from mshared.contracts import MAX_DAG_BYTES
    from mshared.reading import read_regular, read_stream

    if dag == "-":
        with click.open_file("-", "rb") as stdin:   # click's stdin, also under CliRunner
            return read_stream(stdin, MAX_DAG_BYTES, "<stdin>", "the DAG", starts=b"{")
    try:
        return read_regular(dag, MAX_DAG_BYTES, "the DAG")
    except OSError as err:
        raise InvalidInput(f"{dag}: cannot read the DAG: {err.strerror}") from None
