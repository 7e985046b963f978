"""maestro: Maestro's command line over the m* tools (run, status, cancel, update, conductor, rerun)."""

import os
import signal
import sys

import click

from mshared import bundlesettings
from mshared.clitools import (CONTEXT_SETTINGS, check_pargs, command_name, default_sigpipe, info, stdout_bytes,
                              tool_errors, warn, without_cyclic_gc)
from mshared.errors import Interrupted, InvalidInput, StateBusy
from mshared.printable import visible


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _ask(question: str) -> bool:
    return click.prompt(question, default="n", show_default=False, err=True).strip().lower() in ("y", "yes")


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="maestro-microtools", prog_name="maestro")
def main():
    """Run Maestro study specifications: expand, render, submit and monitor, in one command.

    Each sub-command chains the m* tools' cores; everything it does can be done by hand with
    mexpand, mrender, msubmit, mmonitor and mreport.
    """


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("spec", type=click.Path())
@click.option("-a", "--attempts", type=click.IntRange(min=1), default=1, show_default=True, help="Submission attempts per step before it is FAILED.")
@click.option("-r", "--rlimit", type=click.IntRange(min=0), default=1, show_default=True, help="Restarts after a timeout, for steps with a restart command (0 = unlimited).")
@click.option("-t", "--throttle", type=click.IntRange(min=0), default=0, show_default=True, help="Most jobs in flight at once (0 = unlimited; local steps default to one per core, one more while each lasts under a quarter second).")
@click.option("-s", "--sleeptime", type=click.IntRange(min=1), default=60, show_default=True, help="Seconds between scheduler polls (local jobs are noticed at once).")
@click.option("--dry", is_flag=True, help="Write workspaces and scripts, mark every step DRYRUN, run nothing.")
@click.option("-p", "--pgen", type=click.Path(), help="Parameter generator file (get_custom_generator).")
@click.option("--pargs", multiple=True, metavar="KEY:VALUE", help="Argument for the pgen (repeatable).")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Study directory, used as is (no timestamp).")
@click.option("-fg", "--foreground", "foreground", is_flag=True, help="Run the monitor loop here with a progress bar; exit 0 finished, 2 failure, 3 cancelled.")
@click.option("--hashws", is_flag=True, help="Name instance workspaces <step>_instance_<k>.")
@click.option("--max-instances", type=click.IntRange(min=1), envvar="MAESTRO_MAX_INSTANCES", help="Refuse a spec that makes more step instances than this (default 2,000,000; env MAESTRO_MAX_INSTANCES).")
@click.option("-y", "--autoyes", is_flag=True, help="Answer yes to the prompts (launch; move an existing study that has ended aside).")
@click.option("-n", "--autono", is_flag=True, help="Answer no: expand and render, submit nothing.")
@click.option("--usetmp", is_flag=True, help="Write step scripts to a temporary directory instead of the workspaces.")
@click.option("--force", is_flag=True, help="If the study directory exists, move it aside to DIR.old-<timestamp> (nothing is deleted), also when it is not a study; never a study that has not ended or the current directory.")
@click.option("--reuse", type=click.Path(), metavar="OLD", help="An earlier run of this study: instances whose content key FINISHED there are copied over, not run again.")
@click.option("--why", "why", flag_value="table", help="With --reuse: print the plan (reuse or run, and why, per instance) as a table and stop.")
@click.option("--why-json", "why", flag_value="json", help="With --reuse: print the plan as JSON (maestro.reuse-plan) and stop.")
@click.option("--bundle", "bundle", multiple=True, metavar="KEY=VALUE", help=bundlesettings.HELP)
@click.option("--no-bundle", is_flag=True, help="Submit every step as its own job, ignoring the spec's bundle block.")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def run(spec, attempts, rlimit, throttle, sleeptime, dry, pgen, pargs, out, foreground, hashws, max_instances,
        autoyes, autono, usetmp, force, reuse, why, bundle, no_bundle):
    """Expand and render SPEC into a study directory, then submit and monitor it until it ends.

    By default the monitor loop runs in the background, detached from the terminal (its pid in
    <study>/conductor.pid, its log in <study>/logs/conductor.log), and this command returns once
    the study is launched.  The launch prompt appears only on a terminal.  Ctrl-C on -fg stops
    the monitoring, not the jobs: it says how to resume (maestro conductor) or stop them
    (maestro cancel) and exits 130.
    """
    from mrender.core import check_movable, is_study, occupied, target_root
    from mshared.times import utcnow

    from . import launch

    if autoyes and autono:
        raise click.UsageError("-y and -n exclude each other")
    if why and not reuse:
        raise click.UsageError("--why and --why-json show what --reuse OLD would do; give --reuse")
    if bundle and no_bundle:
        raise click.UsageError("--bundle and --no-bundle exclude each other")
    check_pargs(pgen, pargs)
    override = launch.bundle_override(bundle, no_bundle)
    dag, warnings = launch.expand_spec(spec, pgen=pgen, pargs=pargs, hashws=hashws, max_instances=max_instances)
    for message in warnings:
        warn(message)
    launch.check_bundle(dag, override)     # before anything is written or submitted
    now = utcnow()
    root = target_root(dag, now, out)
    plan = launch.plan_reuse(dag, reuse, root) if reuse else None
    if why:
        stdout_bytes(launch.show_plan(plan, dag, root, why))
        return
    if plan is not None:    # what will be reused and why the rest runs, before anything runs
        info(launch.show_plan(plan, dag, root, "summary").decode())
        for message in plan.warnings:
            warn(message)
    if occupied(root):
        check_movable(root)    # a running study, the current directory: never, whatever the flags
        if not force and not is_study(root):
            raise InvalidInput(f"output directory '{root}' exists and is not a study; -y and the prompt "
                               "move only studies aside: use --force to move it to "
                               f"{os.path.basename(root)}.old-<timestamp> (nothing is deleted), or choose "
                               "another with -o")
        if not force:
            if autoyes or (_interactive() and not autono and _ask("Output path already exists. Move it aside? [yn]")):
                force = True
            else:
                raise InvalidInput(f"output directory '{root}' exists and is not empty; use --force (or -y) "
                                   "to move it aside (nothing is deleted), or choose another with -o")
    settings = {"throttle": throttle, "attempts": attempts, "rlimit": rlimit, "poll_interval": sleeptime,
                "dry": dry, "usetmp": usetmp}
    if override is not None:    # only when given: the state of a run without them is as it was
        settings["bundle"] = override
    root = launch.render_study(dag, root, settings, force=force, now=now, reuse=plan)
    info(f"study directory: {root}")
    launch_it = not autono and (autoyes or not _interactive() or _ask("Would you like to launch the study? [yn]"))
    if not launch_it:
        info("not launched; start it later with: maestro conductor " + root)
        return
    if foreground:
        sys.exit(_foreground(root, 1 if dry else None, "maestro run -fg"))
    launch.start_conductor(root)
    click.echo("Study launched successfully.", err=True)
    click.echo(root)


def _outage(root: str, message: str | None) -> None:
    if message:
        click.echo(f"\nmaestro: warning: {message}; the study waits and tries again each poll", err=True)
    else:
        click.echo("\nmaestro: the scheduler answers again; the study goes on", err=True)


def _foreground(root: str, interval, started_by: str) -> int:
    """The monitor loop here, with a progress bar; a signal stops it, not the jobs (conduct)."""
    from mmonitor.core import exit_code

    from . import conduct
    from .progress import Progress

    bar = Progress()

    def rounds(_root, outcomes):
        _rounds(_root, outcomes, newline=bar.tty)
        bar.grew()

    try:
        statuses = conduct.conduct(root, interval=interval, on_pass=bar.update, on_outage=_outage,
                                   started_by=started_by, on_round=rounds)
    except (KeyboardInterrupt, Interrupted) as err:
        bar.interrupted()
        conduct.say_left_running(command_name(), root, conduct.signal_of(err), bar.in_flight())
        conduct.exit_interrupted(conduct.signal_of(err))
    # the study has ended: a Ctrl-C from here on has nothing left to stop (it came just as the
    # study finished); the command ends with the study's own exit code
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    bar.close(statuses[root])
    return exit_code(statuses)


def _rounds(root: str, outcomes, newline: bool = False) -> None:
    """Tell of the decide steps' requests a loop read (problems as warnings)."""
    from mextend.core import describe

    for outcome in outcomes:
        problem, line = describe(outcome)
        if line:
            click.echo(("\n" if newline else "") + f"maestro: {'warning: ' if problem else ''}{line}", err=True)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("study_dir", type=click.Path(file_okay=False))
@click.option("-t", "--sleep", "sleep", type=click.FloatRange(min=0), help="Seconds between scheduler polls (default: the study's setting).")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def conductor(study_dir, sleep):
    """Run (or resume) the monitor loop of STUDY_DIR until the study ends.

    Finished steps are never run again: the loop continues from state.json, after a kill or a
    reboot.  Why it ended goes into logs/conductor.log.  Exit 0 finished, 2 failure,
    3 cancelled, 65 a study moved from where it was rendered, 75 another conductor runs it.
    """
    from mmonitor.core import exit_code
    from mshared.studydir import study_root
    from mshared.studylock import check_place

    from . import conduct, launch

    root = study_root(study_dir)
    check_place(root)       # a moved study is refused before anything is written into it
    other = launch.conductor_alive(root)
    if other:
        raise StateBusy(f"{root}: a conductor is already running (pid {other})")

    def log(_root, events, status):
        for event in events:
            click.echo(visible(f"{event['at']} {event['step']}: {event['from']} -> {event['to']}"
                               + (f" ({event['reason']})" if event.get("reason") else "")), err=True)

    try:
        statuses = conduct.conduct(root, interval=sleep, on_pass=log, on_outage=_outage,
                                   started_by="maestro conductor", on_round=_rounds)
    except (KeyboardInterrupt, Interrupted) as err:
        conduct.say_left_running(command_name(), root, conduct.signal_of(err), None)
        conduct.exit_interrupted(conduct.signal_of(err))
    click.echo(f"Study completed with state '{statuses[root]}'.", err=True)
    sys.exit(exit_code(statuses))


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("study_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("-y", "--autoyes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--step", help="Cancel only this step (all its instances, or one instance id) and its descendants.")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def cancel(study_dirs, autoyes, step):
    """Cancel the studies in STUDY_DIRS: in-flight jobs are cancelled, what had not run is CANCELLED."""
    from mmonitor.core import request_cancel
    from mshared.studydir import study_root

    from . import control

    roots = [study_root(d) for d in study_dirs]
    for root in roots:
        click.echo(visible(f"Study in '{root}' to be cancelled."), err=True)
    if not autoyes and _interactive() and not _ask("Are you sure? [y|[n]]"):
        click.echo("Cancellation aborted.", err=True)
        return
    for root in roots:
        request_cancel(root, step)
        control.one_pass(root, submit=False)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("study_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--throttle", type=click.IntRange(min=0), multiple=True, help="New throttle (0 = unlimited); one value, or one per directory.")
@click.option("--rlimit", type=click.IntRange(min=0), multiple=True, help="New restart limit (0 = unlimited).")
@click.option("--sleep", type=click.IntRange(min=0), multiple=True, help="New poll interval in seconds.")
@click.option("--allocations", type=click.IntRange(min=1), multiple=True, help="New most allocations in flight, for a study with a bundle; one value, or one per directory.")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def update(study_dirs, throttle, rlimit, sleep, allocations):
    """Change the throttle, restart limit, poll interval or bundle allocations of running studies (0 is allowed but for allocations)."""
    from mshared.studydir import study_root

    from . import control

    given = {"throttle": throttle, "rlimit": rlimit, "sleep": sleep, "allocations": allocations}
    if not any(given.values()):
        raise click.UsageError("give at least one of --throttle, --rlimit, --sleep, --allocations")
    for name, values in given.items():
        if values and len(values) not in (1, len(study_dirs)):
            raise click.UsageError(f"--{name}: give one value, or one per directory ({len(study_dirs)})")
    for index, directory in enumerate(study_dirs):
        root = study_root(directory)
        values = {n: (v[0] if len(v) == 1 else v[index]) for n, v in given.items() if v}
        for line in control.update_settings(root, values):
            click.echo(visible(f"{root}: {line}"), err=True)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("study_dir", type=click.Path(file_okay=False))
@click.argument("step")
@click.option("--subtree", is_flag=True, help="Also run its descendants again.")
@click.option("-fg", "--foreground", "foreground", is_flag=True, help="Run the monitor loop here until the study ends.")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def rerun(study_dir, step, subtree, foreground):
    """Run STEP (all its instances, or one instance id) of STUDY_DIR again; the rest is untouched."""
    from mmonitor.core import request_rerun
    from mshared.studydir import study_root

    from . import launch

    root = study_root(study_dir)
    ids = request_rerun(root, step, subtree)
    click.echo(visible(f"{len(ids)} step instance(s) of '{step}' will run again"
                       f"{' with their descendants' if subtree else ''}."), err=True)
    if foreground:
        sys.exit(_foreground(root, None, "maestro rerun -fg"))
    if not launch.conductor_alive(root):
        launch.start_conductor(root)


class _ReportChoice(click.Choice):
    """One of mreport's lists (OUTPUT_FORMATS, LAYOUTS), looked up in mreport.core when it is
    used (help, parsing): whatever mreport offers, `maestro status` offers, with no change here."""

    def __init__(self, name: str):
        self.list_name = name
        super().__init__(())

    @property
    def choices(self):
        from mreport import core

        return getattr(core, self.list_name)

    @choices.setter
    def choices(self, _value):
        pass   # set by click.Choice.__init__; the list is mreport's


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("study_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--layout", type=_ReportChoice("LAYOUTS"), default="flat", show_default=True, help="Table layout, as Maestro's.")
@click.option("--disable-theme", is_flag=True, help="Accepted for compatibility (the table has no colours).")
@click.option("--disable-pager", is_flag=True, help="Accepted for compatibility (no pager unless --pager).")
@click.option("--pager", is_flag=True, help="Show the table in a pager.")
@click.option("--format", "fmt", type=_ReportChoice("OUTPUT_FORMATS"), default="table", show_default=True, help="Output format (as mreport).")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def status(study_dirs, layout, disable_theme, disable_pager, pager, fmt):
    """Show the status of the studies in STUDY_DIRS (mreport's report, Maestro's layouts)."""
    from . import report

    report.show(list(study_dirs), layout=layout, fmt=fmt, pager=pager)
