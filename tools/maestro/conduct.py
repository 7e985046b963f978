"""The monitor loop of one study run as its conductor (`maestro run -fg`, `maestro conductor`):
its pid file, a line in logs/conductor.log when it starts and when it ends, and what to say when
a signal stops it.

Ctrl-C (or SIGTERM, SIGHUP) stops the monitoring, not the jobs: local jobs are detached from the
terminal and scheduled jobs are the scheduler's, so they run on (Maestro's -fg killed its local
jobs with it).  The command says so, and how to resume or stop them, and exits 128 + the signal.
"""

import signal
import sys

import click

from mshared import states as S
from mshared.clitools import one_line
from mshared.conductor import log_line, write_pid
from mshared.errors import Interrupted, MError
from mshared.printable import visible
from mshared.statefile import read_state


def conduct(root: str, *, interval, on_pass, on_outage, started_by: str, on_round=None) -> dict:
    """``mmonitor.core.monitor_loop`` over ``root`` as its conductor; returns {root: status}.
    Why it ended goes into logs/conductor.log (finished, interrupted by a signal, an error);
    whatever ended it is raised again."""
    from mmonitor.core import monitor_loop

    write_pid(root)
    log_line(root, f"started ({started_by})")
    try:
        statuses = monitor_loop([root], interval=interval, on_pass=on_pass, on_outage=on_outage,
                                on_round=on_round)
    except KeyboardInterrupt:
        log_line(root, "interrupted by SIGINT; jobs in flight run on")
        raise
    except Interrupted as err:
        log_line(root, f"interrupted by {err}; jobs in flight run on")
        raise
    except MError as err:
        log_line(root, f"error: {one_line(str(err))}")
        raise
    except Exception as err:
        log_line(root, f"internal error: {type(err).__name__}: {one_line(str(err))}")
        raise
    log_line(root, f"finished with state '{statuses[root]}'")
    return statuses


def signal_of(err: BaseException) -> int:
    return err.signum if isinstance(err, Interrupted) else signal.SIGINT


def say_left_running(prog: str, root: str, signum: int, in_flight: int | None) -> None:
    """What an interrupted conductor leaves behind, and what to do about it (to a terminal that
    may be gone: SIGHUP)."""
    if in_flight is None:
        in_flight = jobs_in_flight(root)
    name = signal.Signals(signum).name
    if in_flight:
        what = (f"{in_flight} job(s) in flight keep running (local jobs are detached from this terminal, "
                "scheduled ones belong to the scheduler) and nothing monitors the study now")
    else:
        what = "no job is in flight; nothing monitors the study now"
    shown = visible(root)
    lines = [f"{prog}: interrupted ({name}): {what}.",
             f"  resume monitoring:  maestro conductor {shown}",
             f"  stop the jobs:      maestro cancel {shown}"]
    try:
        click.echo("\n".join(lines), err=True)
    except OSError:
        pass


def jobs_in_flight(root: str) -> int | None:
    try:
        return sum(1 for e in read_state(root)["steps"].values() if e["state"] in S.IN_FLIGHT)
    except (MError, OSError):
        return None


def exit_interrupted(signum: int):
    sys.exit(128 + signum)
