"""Local adapter: each step runs as a detached process that outlives the tool that started it.

A small bash runner (local_runner.sh) runs the step script with stdout/stderr in
<stem>.<pid>.out/.err, writes <stem>.<pid>.job.json (its process start time, so a reused pid is
never mistaken for the job) and, when the script ends, <stem>.<pid>.exit.json.  Each record is
one small write of a whole document; a record that does not parse yet counts as not written.
The job id is the runner's pid.  Any later process (mmonitor from cron) can tell how a job ended
from these files alone.
"""

import glob
import os
import signal
import subprocess
from importlib import resources

import orjson

from ..states import FAILED, FINISHED, RUNNING
from .base import Adapter, FoundJob, JobRef, JobStatus

RUNNER = str(resources.files("mshared.schedulers").joinpath("local_runner.sh"))


class LocalAdapter(Adapter):
    key = "local"
    script_suffix = ".sh"

    def __init__(self, batch=None, **kwargs):
        super().__init__(batch, **kwargs)
        self._children: set[int] = set()

    def submit(self, script: str, workspace: str, stem: str) -> str:
        # the runner writes its own records (job.json with its start time, then exit.json)
        pid = _spawn_detached(["/bin/bash", RUNNER, script, workspace, stem], workspace)
        self._children.add(pid)
        return str(pid)

    def status(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        self.reap()
        out = {}
        for job in jobs:
            ended = _read_exit(job)
            if ended is None and (self._is_mine(job) or is_alive(job)):
                out[job.job_id] = JobStatus(job.job_id, RUNNING)
                continue
            ended = ended or _read_exit(job)  # it may have ended between the two looks
            if ended is None:
                out[job.job_id] = JobStatus(job.job_id, FAILED, reason=(
                    "the job's process ended without recording an exit code "
                    "(killed with SIGKILL, or the machine restarted)"))
            else:
                out[job.job_id] = _from_record(job.job_id, ended)
        return out

    def cancel(self, jobs: list[JobRef]) -> None:
        for job in jobs:
            if is_alive(job):
                try:
                    os.killpg(int(job.job_id), signal.SIGTERM)  # the runner leads its own group
                except (ProcessLookupError, PermissionError):
                    pass
        self.reap()

    def find(self, workspaces: list[str]) -> list[FoundJob]:
        found = {}
        for workspace in workspaces:
            for suffix in (".job.json", ".out"):
                for path in glob.glob(os.path.join(glob.escape(workspace), "*" + suffix)):
                    stem, _, pid = os.path.basename(path)[: -len(suffix)].rpartition(".")
                    if pid.isdigit():
                        found[(workspace, stem, pid)] = FoundJob(pid, workspace, stem)
        return list(found.values())

    def _is_mine(self, job: JobRef) -> bool:
        """A child of ours not yet reaped cannot be a reused pid: alive unless it is a zombie."""
        if not job.job_id.isdigit() or int(job.job_id) not in self._children:
            return False
        stat = _proc_stat(int(job.job_id))
        return stat is not None and stat[0] not in ("Z", "X")

    def reap(self) -> bool:
        """Collect our own finished children so they do not linger as zombies; True if any ended."""
        ended = False
        for pid in list(self._children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self._children.discard(pid)
                ended = True
        return ended

    def wait_any(self, timeout: float) -> bool:
        """Block until one of our own children ends (True) or ``timeout`` passes (False)."""
        import time

        deadline = time.monotonic() + timeout
        while self._children:
            if self.reap():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.002, remaining))
        return False


def _spawn_detached(argv: list[str], cwd: str) -> int:
    """posix_spawn (vfork: fast) into a new session, stdio on /dev/null, in ``cwd``.

    Python opens every descriptor close-on-exec, so the child inherits only 0-2, and those are
    replaced: a caller capturing our output (a test, a pipe) is never held open by the job.
    """
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    if hasattr(os, "posix_spawn"):   # the runner changes into the workspace itself
        return os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsid=True)
    proc = subprocess.Popen(argv, cwd=cwd, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
    return proc.pid


def start_ticks(pid: int) -> int | None:
    """Process start time (clock ticks since boot, /proc/PID/stat field 22), or None if gone."""
    stat = _proc_stat(pid)
    return int(stat[19]) if stat else None


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return data[data.rindex(")") + 2:].split()


def is_alive(job: JobRef) -> bool:
    """Alive: the pid exists, is not a zombie and started when our runner did."""
    if not job.job_id.isdigit():
        return False
    stat = _proc_stat(int(job.job_id))
    if stat is None or stat[0] in ("Z", "X"):
        return False
    record = _read_json(os.path.join(job.workspace, f"{job.stem}.{job.job_id}.job.json"))
    if record and record.get("start_ticks") is not None:
        return int(stat[19]) == record["start_ticks"]
    try:  # before the runner wrote its record: recognise it by its command line
        with open(f"/proc/{job.job_id}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return False
    if not raw:
        return True   # empty while the kernel is still setting up the exec: look again next pass
    argv = raw.split(b"\0")
    return RUNNER.encode() in argv and job.workspace.encode() in argv


def _read_exit(job: JobRef) -> dict | None:
    return _read_json(os.path.join(job.workspace, f"{job.stem}.{job.job_id}.exit.json"))


def _from_record(job_id: str, record: dict) -> JobStatus:
    code, sig = record.get("exit_code"), record.get("signal") or 0
    if code == 0:
        return JobStatus(job_id, FINISHED, 0, None, record.get("started"), record.get("ended"))
    reason = f"killed by signal {sig}" if sig else f"exit code {code}"
    return JobStatus(job_id, FAILED, code, reason, record.get("started"), record.get("ended"))


def _read_json(path: str):
    try:
        with open(path, "rb") as handle:
            return orjson.loads(handle.read())
    except (FileNotFoundError, ValueError):
        return None


