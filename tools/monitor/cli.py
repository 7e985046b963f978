"""mmonitor: one locked, crash-safe monitoring pass per study (safe to run from cron)."""

import click

from mshared.clitools import (CONTEXT_SETTINGS, default_sigpipe, info, one_line, stdout_bytes, tool_errors, warn,
                              without_cyclic_gc)
from mshared.errors import EXIT_TEMPFAIL, StateBusy


@click.command(name="mmonitor", context_settings=CONTEXT_SETTINGS)
@click.argument("study_dirs", nargs=-1, required=True, metavar="STUDY_DIR...")
@click.option("--no-submit", is_flag=True, help="Only poll and apply; do not submit steps that became ready.")
@click.option("--loop", is_flag=True, help="Repeat passes until the study ends; exit 0 finished, 2 failure, 3 cancelled.")
@click.option("--interval", type=click.FloatRange(min=0), help="Seconds between passes with --loop (default: the study's poll interval; local jobs are noticed at once).")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def main(study_dirs, no_submit, loop, interval):
    """Poll the scheduler once for every in-flight job of each STUDY_DIR and update its state.

    One scheduler query per scheduler per pass.  Applies Maestro's rules (failures fail the
    subtree, timeouts restart with the restart script up to the limit, cancel requests), then
    submits the steps that became ready.  Every change is an NDJSON event on stdout and in
    events.jsonl; status.csv is rewritten.  A pass that changes nothing prints nothing.  The
    requests of decide steps that finished (extend.decide) are applied after the pass; with
    --loop, a study that grows runs on and an open one waits for mextend until it is done.

    \b
    Exit codes: 0 ok (with --loop: finished), 2 (--loop) a step failed, 3 (--loop) cancelled,
    65 not a study, 69 scheduler unavailable, 75 the study is locked (cron retries next time).
    """
    from mshared.jsonio import dumps

    from .core import exit_code, monitor_loop, monitor_study

    def emit(root, events, status):
        if events:
            stdout_bytes(b"".join(dumps(e) for e in events))

    def outage(root, message):
        click.echo(one_line(f"mmonitor: warning: {root}: {message}; trying again each pass" if message
                            else f"mmonitor: {root}: the scheduler answers again"), err=True)

    def rounds(root, outcomes):
        from mextend.core import describe

        for outcome in outcomes:
            problem, line = describe(outcome)
            if line:
                (warn if problem else info)(f"{root}: {line}")

    if loop:
        raise SystemExit(exit_code(monitor_loop(list(study_dirs), interval=interval, submit=not no_submit,
                                                on_pass=emit, on_outage=outage, on_round=rounds)))
    busy = False
    for root in study_dirs:
        try:
            result = monitor_study(root, submit=not no_submit, on_round=rounds)
        except StateBusy:
            busy = True   # quietly: cron runs us again
            continue
        emit(root, result.events, result.status)
    if busy:
        raise SystemExit(EXIT_TEMPFAIL)
