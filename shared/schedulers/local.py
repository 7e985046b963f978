"""Local adapter: each step runs as a detached process that outlives the tool that started it.

A small POSIX sh runner (local_runner.sh) runs the step script with stdout/stderr in
<stem>.<pid>.out/.err and, when the script ends, writes <stem>.<pid>.exit.json (exit code,
signal, start and end times; one small write of a whole document: a record that does not parse
yet counts as not written).  The job id is the runner's pid.  While it runs, the job is
recognised by its command line (the runner and the step's workspace), so a reused pid is never
mistaken for it.  Any later process (mmonitor from cron) can tell how a job ended from these
files alone.
"""

import glob
import os
import select
import signal
import subprocess
import time
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
        # pid -> pidfd: a pidfd turns readable when its process ends, so a loop waiting on its
        # own children wakes at once (Linux >= 5.3); without them it polls every 2 ms
        self._pidfds: dict[int, int] = {}
        self._poller = select.poll() if hasattr(os, "pidfd_open") else None
        self._env = dict(os.environ)   # converted once, not for every job

    def submit(self, script: str, workspace: str, stem: str) -> str:
        # the runner writes its own record (exit.json) when the script ends
        started = str(int(time.time() * 100))   # the runner records it (sh cannot read the clock)
        pid = _spawn_detached(["/bin/sh", RUNNER, script, workspace, stem, started], workspace, self._env)
        self._children.add(pid)
        self._watch(pid)
        return str(pid)

    def _watch(self, pid: int) -> None:
        if self._poller is None:
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError:          # an older kernel, or out of descriptors: poll instead
            self._poller = None
            return
        self._pidfds[pid] = fd
        self._poller.register(fd, select.POLLIN)

    def status(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        self.reap()
        out = {}
        for job in jobs:
            if job.job_id.isdigit() and int(job.job_id) in self._children:
                out[job.job_id] = JobStatus(job.job_id, RUNNING)   # ours, and not ended at reap()
                continue
            ended = _read_exit(job)
            if ended is None and is_alive(job):
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
            for suffix in (".exit.json", ".out"):
                for path in glob.glob(os.path.join(glob.escape(workspace), "*" + suffix)):
                    stem, _, pid = os.path.basename(path)[: -len(suffix)].rpartition(".")
                    if pid.isdigit():
                        found[(workspace, stem, pid)] = FoundJob(pid, workspace, stem)
        return list(found.values())

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
                self._unwatch(pid)
                ended = True
        return ended

    def _unwatch(self, pid: int) -> None:
        fd = self._pidfds.pop(pid, None)
        if fd is not None:
            if self._poller is not None:
                self._poller.unregister(fd)
            os.close(fd)

    def wait_any(self, timeout: float) -> bool:
        """Block until one of our own children ends (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while self._children:
            if self.reap():
                return True
            if self._poller is not None and len(self._pidfds) == len(self._children):
                return bool(self._poller.poll(max(timeout, 0) * 1000)) and self.reap()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.002, remaining))
        return False


def _spawn_detached(argv: list[str], cwd: str, env: dict) -> int:
    """posix_spawn (vfork: fast) into a new session, stdio on /dev/null, in ``cwd``.

    Python opens every descriptor close-on-exec, so the child inherits only 0-2, and those are
    replaced: a caller capturing our output (a test, a pipe) is never held open by the job.
    """
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    if hasattr(os, "posix_spawn"):   # the runner changes into the workspace itself
        return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, start_new_session=True, stdin=subprocess.DEVNULL,
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
    """Alive: the pid exists, is not a zombie and runs our runner for this job's workspace (a
    reused pid runs something else).  A runner's command line never changes while it runs."""
    if not job.job_id.isdigit():
        return False
    stat = _proc_stat(int(job.job_id))
    if stat is None or stat[0] in ("Z", "X"):
        return False
    try:
        with open(f"/proc/{job.job_id}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return False
    if not raw:
        return True   # empty while the kernel is still setting up the exec: look again next pass
    argv = raw.split(b"\0")
    return RUNNER.encode() in argv and job.workspace.encode() in argv


def _read_exit(job: JobRef) -> dict | None:
    try:
        with open(os.path.join(job.workspace, f"{job.stem}.{job.job_id}.exit.json"), "rb") as handle:
            return orjson.loads(handle.read())
    except (FileNotFoundError, ValueError):
        return None


def _from_record(job_id: str, record: dict) -> JobStatus:
    code, sig = record.get("exit_code"), record.get("signal") or 0
    started, ended = record.get("started"), record.get("ended")
    if code == 0:
        return JobStatus(job_id, FINISHED, 0, None, started, ended)
    reason = f"killed by signal {sig}" if sig else f"exit code {code}"
    return JobStatus(job_id, FAILED, code, reason, started, ended)
