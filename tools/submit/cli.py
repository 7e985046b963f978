"""msubmit: push the ready steps of a study to its scheduler."""

import click

from mshared import bundlesettings
from mshared.clitools import CONTEXT_SETTINGS, default_sigpipe, stdout_bytes, tool_errors, without_cyclic_gc


@click.command(name="msubmit", context_settings=CONTEXT_SETTINGS)
@click.argument("study_dirs", nargs=-1, required=True, metavar="STUDY_DIR...")
@click.option("-t", "--throttle", type=click.IntRange(min=0), help="Keep at most N jobs in flight (0 = unlimited; local steps default to one per core). Saved in the study.")
@click.option("-a", "--attempts", type=click.IntRange(min=1), help="Submission attempts per step before it is marked FAILED. Saved in the study.")
@click.option("--bundle", "bundle", multiple=True, metavar="KEY=VALUE", help=bundlesettings.HELP + " Saved in the study.")
@click.option("--no-bundle", is_flag=True, help="Submit every step as its own job, ignoring the spec's bundle block. Saved in the study.")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def main(study_dirs, throttle, attempts, bundle, no_bundle):
    """Submit every step of STUDY_DIR whose parents all FINISHED, up to the throttle.

    Runs under the study lock: held by another process, it exits 75 at once.  Each state change
    is one NDJSON event on stdout (and in the study's events.jsonl).  The intent is recorded
    before a job is submitted, so a crash never leads to a second job for the same step.

    \b
    Exit codes: 0 ok, 65 not a study directory or a bad --bundle, 69 scheduler unavailable
    (nothing marked failed), 75 the study is locked by another process.
    """
    from mshared.bundlesettings import parse_override
    from mshared.jsonio import dumps

    from .core import submit_study, update_settings

    if bundle and no_bundle:
        raise click.UsageError("--bundle and --no-bundle exclude each other")
    override = {"off": True} if no_bundle else (parse_override(bundle) if bundle else None)
    for root in study_dirs:     # every study's settings checked and saved before anything is submitted
        update_settings(root, {"throttle": throttle, "attempts": attempts, "bundle": override})
    for root in study_dirs:
        result = submit_study(root)
        if result.events:
            stdout_bytes(b"".join(dumps(e) for e in result.events))
