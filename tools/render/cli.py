"""mrender: turn a DAG from mexpand into a study directory; print the directory on stdout."""

import os

import click

from mshared.clitools import (CONTEXT_SETTINGS, default_sigpipe, info, stdout_bytes, tool_errors, warn,
                              without_cyclic_gc)
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
@click.option("--reuse", "reuse", type=click.Path(), metavar="OLD", help="An earlier run of this study: every instance with the same content key that FINISHED there is copied over and not run again.")
@click.option("--why", "why", flag_value="table", help="With --reuse: print the plan (reuse or run, and why, per instance) as a table on stdout; write nothing.")
@click.option("--why-json", "why", flag_value="json", help="With --reuse: the same plan as JSON (maestro.reuse-plan); write nothing.")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def main(dag, out, force, throttle, attempts, rlimit, sleep, dry, usetmp, reuse, why):
    """Render a DAG (from mexpand; - or nothing reads stdin) into a study directory.

    Creates one workspace per step instance with its script for the study's scheduler, copies of
    the spec and pgen file, dag.json, batch.info, meta/ (with the instances' content keys),
    logs/ and the initial state.json, then prints the study directory as one line.  With --reuse
    OLD, what OLD finished with the same key is brought over instead of run again (a summary on
    stderr; --why shows the plan and stops).  Exit codes: 0 ok, 2 usage, 65 invalid DAG, old
    study or occupied directory, 1 could not write.

    \b
    Example:
      msubmit "$(mexpand study.yaml | mrender)"
    """
    from mshared.contracts import parse_dag
    from mshared.times import utcnow

    from .core import plan_reuse, show_plan, target_root, write_study

    if why and not reuse:
        raise click.UsageError("--why and --why-json show what --reuse OLD would do; give --reuse")
    doc = parse_dag(_read(dag), "<stdin>" if dag == "-" else dag)
    now = utcnow()
    settings = {"throttle": throttle, "attempts": attempts, "rlimit": rlimit,
                "poll_interval": sleep, "dry": dry, "usetmp": usetmp}
    root = target_root(doc, now, out)
    plan = plan_reuse(doc, reuse, root=root) if reuse else None
    if why:
        stdout_bytes(show_plan(plan, doc, root, why))
        return
    if plan is not None:   # the plan in one line on stderr, and its warnings: no silent mass re-run
        info(show_plan(plan, doc, root, "summary").decode())
        for message in plan.warnings:
            warn(message)
    root = write_study(doc, root, settings, now=now, force=force, reuse=plan)
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
