"""What every scheduler is: a unit (``Scheduler``) and an adapter (``Adapter``).

A scheduler module (``runtime/schedulers/<key>.py``) declares ONE unit, ``UNIT = Scheduler(...)``:
its ``batch.type`` key, the extension of its scripts, the header and launcher its scripts get, and
its adapter class.  The registry maps the key to the module; everything else derives from the unit.

An adapter knows how to hand a rendered script to its scheduler and how to ask about many jobs at
once.  It keeps no state between calls: msubmit and mmonitor own the state file.  Every call to
an external command goes through ``run_command`` with a timeout, so a hung scheduler cannot hold
the study lock for long.  The skeleton every batch adapter shares is written once, here:

* ids are taken once each, and an empty list costs no scheduler call;
* "down or else": an answer whose words say the scheduler cannot be reached (or a command that is
  missing or hangs) is ``SchedulerUnavailable``, and nothing is marked failed; a submission the
  scheduler answered and refused is ``SubmitRefused`` with the scheduler's own words;
* a job the scheduler does not report is UNKNOWN with a reason, never FINISHED;
* cancelling a job that already ended (or that the scheduler forgot) is not an error.

A subclass gives its words (``unreachable``, ``benign_cancel``, ...) and its commands
(``submit_command``, ``job_id``, ``query``, ``cancel_command``, ``find``), and keeps its own parsing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Callable

from mshared import states as S
from mshared.errors import SchedulerUnavailable
from . import _parse as P

DEFAULT_TIMEOUT = 30.0  # seconds for one scheduler command

# Optional capabilities an adapter declares in ``capabilities`` (ask with ``adapter.offers(...)``).
# WAITS_HERE: its jobs are processes of this machine, started by this adapter; it has
# ``running_here`` (some are still running), ``wait_any(timeout)`` (block until one ends) and
# ``quick()`` (its recent jobs were so short that a loop keeps one more in flight).
WAITS_HERE = "waits_here"


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
    alloc: str | None = None        # a bundled step's: the allocation's job id and the node it ran on
    node: str | None = None


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


@dataclass
class Answer:
    """What one status query said: the states it gave (by the ids asked for), the ids it said it
    does not know, and a note for the ids it said nothing about."""

    states: dict[str, JobStatus]
    unknown: set[str] = field(default_factory=set)
    note: str = ""


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


def unavailable(what: str, result: CommandResult | None = None, detail: str | None = None,
                uncertain: bool = False) -> SchedulerUnavailable:
    """Build (not raise) a SchedulerUnavailable with the scheduler's own words.

    ``uncertain`` (or a scheduler that says it timed out) gives SubmitUncertain: raised by a
    submit, it means the job may exist after all.
    """
    parts = [what]
    if result is not None:
        parts.append(P.describe(result))
    if detail:
        parts.append(detail)
    message = ": ".join(parts)
    if uncertain or "timed out" in message.lower():
        return SubmitUncertain(message)
    return SchedulerUnavailable(message)


def require_paths(script: str, workspace: str) -> None:
    """A missing workspace or script is this job's problem, not the scheduler's: refuse it (the
    subprocess would otherwise fail to start in a missing cwd, which reads as "scheduler down")."""
    if not os.path.isdir(workspace):
        raise SubmitRefused(f"workspace {workspace} does not exist")
    if not os.path.isfile(script):
        raise SubmitRefused(f"script {script} does not exist")


def read_script(script: str) -> str:
    """The script's text (after require_paths); an unreadable script is this job's problem too."""
    try:
        with open(script, encoding="utf-8") as fh:
            return fh.read()
    except OSError as err:
        raise SubmitRefused(f"cannot read script {script}: {err.strerror}") from None


def unique(jobs: list[JobRef]) -> list[JobRef]:
    """``jobs`` with each job id once, in order."""
    seen: dict[str, JobRef] = {}
    for job in jobs:
        seen.setdefault(job.job_id, job)
    return list(seen.values())


class Adapter:
    """The skeleton every adapter shares (see the module docstring); subclasses fill in the words
    and commands of their scheduler.  ``key`` and ``script_suffix`` come from the unit."""

    unit: Scheduler                       # set by the Scheduler that names this class as its adapter
    capabilities: frozenset[str] = frozenset()
    name = "the scheduler"                # in "<name> is not reachable"
    unreachable: tuple[str, ...] = ()     # words in an answer that mean "cannot reach the scheduler"
    benign_cancel: tuple[str, ...] = ()   # words of a cancel error about a job that already ended
    forgotten = "job no longer known to the scheduler"     # the reason for an id it says it does not know
    unreported = "the scheduler reported nothing for this job"   # ... for an id it says nothing of
    environment: dict[str, str] = {}      # set for every command of this scheduler

    def __init__(self, batch: dict | None = None, runner=run_command, timeout: float = DEFAULT_TIMEOUT):
        self.batch = dict(batch or {})
        self.run = runner
        self.timeout = timeout

    @property
    def key(self) -> str:
        return self.unit.key

    @property
    def script_suffix(self) -> str:
        """mrender writes <stem><script_suffix> and <stem>.restart<script_suffix>."""
        return self.unit.script_suffix

    def offers(self, capability: str) -> bool:
        """Whether this adapter declares ``capability`` (e.g. WAITS_HERE) in ``capabilities``."""
        return capability in self.capabilities

    def close(self) -> None:
        """Let go of helpers (a local launcher); the jobs run on.  Nothing to do by default."""

    # ------------------------------------------------------------------ commands
    def call(self, argv: list[str], **kwargs) -> CommandResult:
        """One scheduler command, with this adapter's timeout and environment."""
        env = P.env_with(**self.environment) if self.environment else None
        return self.run(argv, timeout=self.timeout, env=env, **kwargs)

    def is_down(self, result: CommandResult) -> bool:
        return P.matches_any(P.output_of(result), self.unreachable)

    def failure(self, result: CommandResult, what: str) -> SchedulerUnavailable:
        """"Down or else": '<name> is not reachable' when the answer says so, otherwise ``what``;
        either way SchedulerUnavailable, never a job's failure."""
        if self.is_down(result):
            return unavailable(f"{self.name} is not reachable", result)
        return unavailable(what, result)

    # ------------------------------------------------------------------ the four calls
    def submit(self, script: str, workspace: str, stem: str) -> str:
        """Submit ``script`` (absolute path) to run in ``workspace``; return the job id.

        Raises SubmitRefused when the scheduler refuses the job, SchedulerUnavailable when it
        cannot be reached (then nothing about the step may be marked failed).
        """
        require_paths(script, workspace)
        argv, text = self.submit_command(script, workspace)
        result = self.call(argv, cwd=workspace, input_text=text)
        if result.returncode != 0:
            if self.is_down(result):
                raise unavailable(f"{self.name} is not reachable", result)
            raise SubmitRefused(P.clip(P.output_of(result)) or f"{argv[0]} exited {result.returncode}")
        job_id = self.job_id(result.stdout)
        if job_id is None:
            # The job may exist: never guess.  The caller keeps its intent record and reconciles
            # through find() on the next pass.
            raise unavailable("the scheduler answered without a job id", result, uncertain=True)
        return job_id

    def status(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        """States of all ``jobs`` (keyed by job id) from ONE scheduler query, plus at most one
        batched follow-up for ids the first query no longer knows.  A job the scheduler has
        forgotten comes back UNKNOWN with a reason, never FINISHED."""
        jobs = unique(jobs)
        if not jobs:
            return {}
        answer = self.query(jobs)
        out = {}
        for job in jobs:
            found = answer.states.get(job.job_id)
            if found is None:
                why = self.forgotten if job.job_id in answer.unknown else self.unreported + answer.note
                found = JobStatus(job.job_id, S.UNKNOWN, reason=why)
            out[job.job_id] = found
        return out

    def cancel(self, jobs: list[JobRef]) -> None:
        """Ask the scheduler to cancel ``jobs`` (one call); already-ended jobs are not an error."""
        ids = [job.job_id for job in unique(jobs)]
        if not ids:
            return
        argv = self.cancel_command(ids)
        result = self.call(argv)
        if result.returncode == 0:
            return
        lines = [ln for ln in P.output_of(result).splitlines() if ln.strip()]
        if lines and not self.is_down(result) and all(P.matches_any(ln, self.benign_cancel) for ln in lines):
            return                       # ended, or purged: nothing left to cancel
        raise self.failure(result, "cancel failed")

    def find(self, workspaces: list[str]) -> list[FoundJob]:
        """Jobs of this user whose working directory is one of ``workspaces``: after a crash between
        the scheduler accepting a job and the state being written, this finds it again."""
        raise NotImplementedError

    # ------------------------------------------------------------------ what a subclass gives
    def submit_command(self, script: str, workspace: str) -> tuple[list[str], str | None]:
        """(argv, text for its standard input or None) that submits ``script``; it runs in the
        workspace."""
        raise NotImplementedError

    def job_id(self, stdout: str) -> str | None:
        """The job id in a successful submission's answer; None when there is none."""
        raise NotImplementedError

    def query(self, jobs: list[JobRef]) -> Answer:
        """ONE status query for ``jobs`` (ids unique); raise SchedulerUnavailable when the
        scheduler cannot answer."""
        raise NotImplementedError

    def cancel_command(self, ids: list[str]) -> list[str]:
        """argv that cancels ``ids`` in one call."""
        raise NotImplementedError


@dataclass(frozen=True)
class Scheduler:
    """One scheduler, as one registered unit: what mexpand accepts as ``batch.type``, what mrender
    writes and what the engine runs all derive from this record.

    ``header(step, batch, shell)`` gives the header of a scheduled step (shebang included) and
    ``parallelize(step, batch, procs, nodes)`` the launcher command for $(LAUNCHER); both are None
    where every step runs as a plain shell script (local).

    ``allocation(batch, settings, name, workdir, worker, shell)`` (optional; None: the scheduler
    cannot run bundles) gives the whole text of a bundle's allocation script: one batch job of
    ``settings["nodes"]`` nodes for ``settings["walltime"]`` seconds (``settings`` as
    mshared.bundlesettings normalises them; ``gpus`` and ``cores`` are per node) that exports
    MAESTRO_BUNDLE_END and starts the command ``worker`` (an argv) once on each node with the
    scheduler's own launcher, waits for all of them and exits with the launcher's status.
    ``batch`` is the study's batch block, ``name`` the job name (filename-safe), ``workdir`` the
    absolute directory the job runs in and writes its output to, ``shell`` the shebang's shell.
    Submit it with ``adapter.submit(script, workdir, stem)``, the script written in ``workdir``
    as ``<anything><script_suffix>``: Flux's ``find`` learns job names from those files.
    """

    key: str                  # batch.type, and the registry key
    extension: str            # scripts are <stem>.<extension>, restart scripts <stem>.restart.<extension>
    adapter: type[Adapter]
    header: Callable[[dict, dict, str], str] | None = None
    parallelize: Callable[[dict, dict, int, int | None], str] | None = None
    allocation: Callable[[dict, dict, str, str, list[str], str], str] | None = None

    def __post_init__(self):
        # the adapter learns its key and script suffix from here, so each is written once
        self.adapter.unit = self

    @property
    def script_suffix(self) -> str:
        return "." + self.extension

    @property
    def batch(self) -> bool:
        """Scheduled steps go to a batch scheduler (they get a header); False: all run locally."""
        return self.header is not None
