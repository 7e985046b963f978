"""The one interface every scheduler adapter implements.

An adapter knows how to hand a rendered script to its scheduler and how to ask about many jobs at
once.  It keeps no state between calls: msubmit and mmonitor own the state file.  Every call to
an external command goes through ``run_command`` with a timeout, so a hung scheduler cannot hold
the study lock for long.
"""

import os
import shutil
import subprocess
from dataclasses import dataclass, field

from mshared.errors import SchedulerUnavailable

DEFAULT_TIMEOUT = 30.0  # seconds for one scheduler command


class SubmitRefused(Exception):
    """The scheduler answered and refused this job (counts as a failed attempt).

    The message is the scheduler's own words, kept in the state as the step's reason.
    """


class SubmitUncertain(SchedulerUnavailable):
    """The scheduler may have accepted the job (a timeout, an answer without a job id): the
    caller keeps its intent and finds the job, or submits again after a grace period."""


@dataclass(frozen=True)
class JobStatus:
    """What the scheduler says of one job, in Maestro's state names."""

    job_id: str
    state: str                      # one of mshared.states
    exit_code: int | None = None    # the script's exit status when known
    reason: str | None = None       # the scheduler's words: "NonZeroExitCode", "TimeLimit", ...
    started: str | None = None      # UTC ISO-8601 'Z' when the scheduler reports it
    ended: str | None = None


@dataclass(frozen=True)
class JobRef:
    """A job the state file knows: its id, and the step's workspace (absolute) and file stem."""

    job_id: str
    workspace: str
    stem: str


@dataclass(frozen=True)
class FoundJob:
    """A job found by its study-and-step marker, to reconcile a crash after submission."""

    job_id: str
    workspace: str
    name: str = ""


@dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str
    argv: list[str] = field(default_factory=list)


def run_command(argv: list[str], *, timeout: float = DEFAULT_TIMEOUT, cwd: str | None = None,
                input_text: str | None = None, env: dict | None = None) -> CommandResult:
    """Run a scheduler command; a missing command or a hang is SchedulerUnavailable (exit 69)."""
    if shutil.which(argv[0], path=(env or os.environ).get("PATH")) is None:
        raise SchedulerUnavailable(f"'{argv[0]}' was not found on PATH; is the scheduler's client installed?")
    try:
        proc = subprocess.run(argv, cwd=cwd, input=input_text, capture_output=True, text=True,
                              timeout=timeout, env=env, stdin=None if input_text is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SubmitUncertain(f"'{' '.join(argv[:2])}' did not answer within {timeout:.0f} s") from None
    except OSError as err:
        raise SchedulerUnavailable(f"cannot run '{argv[0]}': {err.strerror}") from None
    return CommandResult(proc.returncode, proc.stdout, proc.stderr, list(argv))


class Adapter:
    """Base class: subclasses set ``key`` and ``script_suffix`` and implement the four calls."""

    key = "base"
    script_suffix = ".sh"       # mrender writes <stem><script_suffix> and <stem>.restart<script_suffix>

    def __init__(self, batch: dict | None = None, runner=run_command, timeout: float = DEFAULT_TIMEOUT):
        self.batch = dict(batch or {})
        self.run = runner
        self.timeout = timeout

    def submit(self, script: str, workspace: str, stem: str) -> str:
        """Submit ``script`` (absolute path) to run in ``workspace``; return the job id.

        Raises SubmitRefused when the scheduler refuses the job, SchedulerUnavailable when it
        cannot be reached (then nothing about the step may be marked failed).
        """
        raise NotImplementedError

    def status(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        """States of all ``jobs`` (keyed by job id) from ONE scheduler query, plus at most one
        batched follow-up for ids the first query no longer knows.  A job the scheduler has
        forgotten comes back UNKNOWN with a reason, never FINISHED."""
        raise NotImplementedError

    def cancel(self, jobs: list[JobRef]) -> None:
        """Ask the scheduler to cancel ``jobs`` (one call); already-ended jobs are not an error."""
        raise NotImplementedError

    def find(self, workspaces: list[str]) -> list[FoundJob]:
        """Jobs of this user whose working directory is one of ``workspaces``: after a crash between
        the scheduler accepting a job and the state being written, this finds it again."""
        raise NotImplementedError

    def check_available(self) -> None:
        """Raise SchedulerUnavailable quickly when the scheduler cannot be reached."""
        return None
