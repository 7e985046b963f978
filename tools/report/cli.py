"""mreport: a study's status at a glance, for people (tables) and programs (JSON, CSV, exit codes)."""

import os
import shutil
import sys
from datetime import datetime, timezone

import click

from mshared import states as S
from mshared.clitools import (CONTEXT_SETTINGS, default_sigpipe, one_line, stdout_bytes, tool_errors,
                              without_cyclic_gc)
from mshared.times import utcnow

from .core import LAYOUTS, OUTPUT_FORMATS, VIEWS


def _now(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DDTHH:MM:SSZ", param_hint="--now") from None


def _width(option: int | None) -> int | None:
    if option is not None:
        return option or None
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return shutil.get_terminal_size().columns
    return None   # into a pipe or file: whole lines, for grep and awk


class _Command(click.Command):
    """Run as the mreport process itself, end with os._exit once the output is flushed: freeing
    the millions of objects of a large report takes time and serves no one.  A test runner
    (stdout captured), a wrapper invoking us as a sub-command, or standalone_mode=False get the
    ordinary return."""

    def main(self, *args, **kwargs):
        if kwargs.get("standalone_mode") is False or sys.stdout is not sys.__stdout__:
            return super().main(*args, **kwargs)
        code = 0
        try:
            super().main(*args, **kwargs)
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
            if isinstance(done.code, str):
                click.echo(done.code, err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


@click.command(name="mreport", cls=_Command, context_settings=CONTEXT_SETTINGS)
@click.argument("study_dirs", nargs=-1, required=True, metavar="STUDY_DIR...")
@click.option("-f", "--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True,
              help="table for people; json (one document per study), ndjson (one record per line), "
                   "csv (Maestro's status.csv), md (Markdown), dot (Graphviz, coloured by state).")
@click.option("-l", "--layout", type=click.Choice(LAYOUTS), default="flat", show_default=True,
              help="Table layout, as `maestro status --layout`.")
@click.option("-s", "--state", "states", multiple=True, metavar="STATE",
              type=click.Choice(S.ALL, case_sensitive=False),
              help="Only steps in this state, one of Maestro's (FAILED, RUNNING, ...; any case; repeatable).")
@click.option("--step", "steps", multiple=True, metavar="NAME",
              help="Only instances of this spec step, or this step id; shell patterns such as "
                   "'sim*' allowed (repeatable).")
@click.option("-g", "--group-by", "group_by", multiple=True, metavar="PARAM",
              help="Instead of steps, count the states for each value of this parameter "
                   "(repeatable: each combination of values).")
@click.option("--summary", is_flag=True, help="Only the summary: status, counts per state, elapsed time.")
@click.option("--why", is_flag=True,
              help="For FAILED, TIMEDOUT and CANCELLED steps: exit code, reason, and the end of stderr.")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=10, show_default=True, metavar="N",
              help="Lines of stderr shown by --why.")
@click.option("--check", is_flag=True,
              help="Exit 0 when every chosen step FINISHED, 3 while any can still change, 4 when "
                   "none can and one ended FAILED, TIMEDOUT or CANCELLED.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing (with --check: only the exit code).")
@click.option("-w", "--width", type=click.IntRange(min=0), metavar="N",
              help="Fit tables to N columns, 0 for no limit.  [default: the terminal's width; "
                   "no limit into a pipe or file unless COLUMNS is set]")
@click.option("--result", "result", metavar="FILE",
              help="With --format json or ndjson: show each step's FILE (in its workspace, at most 64 KiB) "
                   "as 'result' (JSON, or text).  [default: the spec's extend.result]")
@click.option("--pager", is_flag=True, help="Show the output through a pager ($PAGER, else less).")
@click.option("--now", "now_text", hidden=True, help="Report as of this UTC time (tests).")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def main(study_dirs, fmt, layout, states, steps, group_by, summary, why, lines, check, quiet, width,
         result, pager, now_text):
    """Report the status of each STUDY_DIR: a summary line and Maestro's status table, or the
    same facts as JSON, NDJSON, CSV, Markdown or Graphviz.

    Reads state.json and dag.json without taking the study lock and never changes the study,
    so it is safe to run at any time, as often as you like.

    \b
    Exit codes: 0 ok; with --check 0 finished, 3 still active, 4 a step failed, timed out or was
    cancelled; 2 usage; 65 not a study, or a state/DAG of a newer version.
    """
    from .core import overall_check, report_studies

    view = _view(fmt, summary, group_by, why, len(study_dirs))
    if check and quiet and not (group_by or why) and "summary" in VIEWS[fmt]:
        view = "summary"     # only the exit code is asked for: state.json alone answers it
    if result is not None:
        _check_result(result, fmt, view)
    outputs, codes, error = [], [], 0
    for one in report_studies(study_dirs, now=_now(now_text), fmt=fmt, view=view, layout=layout,
                              width=_width(width), states=states, steps=steps, group_by=group_by,
                              why_lines=lines if why else None, keep_going=True, result=result):
        if one.error is not None:
            click.echo(f"{click.get_current_context().command_path}: error: {one_line(str(one.error))}", err=True)
            error = error or one.error.exit_code
            continue
        codes.append(one.check)
        if quiet:
            continue
        outputs.append(one.output)
        if not pager:
            stdout_bytes(one.output)
    if pager and outputs:
        click.echo_via_pager(b"".join(outputs).decode("utf-8").removesuffix("\n"))  # it adds one
    if error:
        raise SystemExit(error)
    if check:
        raise SystemExit(overall_check(codes))


def _check_result(name: str, fmt: str, view: str) -> None:
    if fmt not in ("json", "ndjson") or view != "steps":
        raise click.UsageError("--result goes with the step list in --format json or ndjson")
    if not name or name.startswith("/") or ".." in name.split("/") or any(ord(ch) < 32 for ch in name):
        raise click.BadParameter("give a file name inside the workspace, such as result.json", param_hint="--result")


def _view(fmt, summary, group_by, why, count) -> str:
    """Which view the options ask for; UsageError for options that do not go together."""
    view = "groups" if group_by else "summary" if summary else "steps"
    if group_by and summary:
        raise click.UsageError("--group-by and --summary show different things; give one")
    if view not in VIEWS[fmt]:
        raise click.UsageError(f"--format {fmt} cannot show the {view}")
    if why and (view != "steps" or fmt in ("csv", "dot")):
        raise click.UsageError("--why goes with the step list in table, md, json or ndjson")
    if fmt == "csv" and count > 1:
        raise click.UsageError("--format csv takes one STUDY_DIR (status.csv has no study column)")
    return view
