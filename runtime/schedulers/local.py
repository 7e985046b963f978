"""Local: plain scripts (`#!<shell>`, a blank line, the command: Maestro's localscriptadapter, byte
for byte), and the adapter: each step runs as a detached process that outlives the tool that
started it.

A small POSIX sh runner (local_runner.sh) runs the step script with stdout/stderr in
<stem>.<pid>.out/.err and, when the script ends, writes <stem>.<pid>.exit.json (exit code,
signal, start time; the file's modification time is the end; one small write of a whole
document: a record that does not parse yet counts as not written).  The job id is the pid of
the process that runs the job.  Any later process (mmonitor from cron) can tell how a job ended
from these files alone.

Where the kernel has pidfds (Linux >= 5.3) the jobs are forked by one launcher per adapter (the
runner with --serve, in a session of its own): a fork of a small shell is several times cheaper
than starting a process from Python, and the tool waits for no exec.  A pidfd per job tells when
it ends.  Elsewhere, and for a path a line cannot carry, each job's runner is spawned directly in
a session of its own.  While it runs, a job is recognised by its command line (the runner) and
its working directory (its workspace), so a reused pid is never mistaken for it.
"""

import errno
import glob
import os
import select
import socket
import subprocess
import time

import orjson

from mshared.jsonio import current_umask
from mshared.states import FAILED, FINISHED, RUNNING
from . import _parse as P
from .base import (WAITS_HERE, Adapter, Answer, FoundJob, JobRef, JobStatus, Scheduler,
                   SubmitRefused, SubmitUncertain, unique)
from .processes import kill_after_argv, proc_stat, terminate

# beside this module (package data); a plain path: importlib.resources would cost mrender, which
# now imports this module for the local unit, more than the rest of the module together
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "local_runner.sh")
# Jobs shorter than this leave a core idle for a noticeable part of their run while the loop sees
# one end and starts the next: a loop then keeps one more in flight than there are cores (see
# quick(); the figures are in bench/README.md, "Figures behind the scheduler code").
QUICK = 0.25
# Seconds a cancelled job gets between SIGTERM and SIGKILL (SLURM's KillWait, 30 s by default,
# does the same for its jobs): enough to clean up, short enough that a cancel is a cancel.
KILL_GRACE = 10.0


class LocalAdapter(Adapter):
    capabilities = frozenset({WAITS_HERE})   # running_here, wait_any(), quick()

    def __init__(self, batch=None, kill_grace: float = KILL_GRACE, **kwargs):
        super().__init__(batch, **kwargs)
        self.kill_grace = kill_grace
        self._helpers: set[int] = set()  # kill-after helpers started here, reaped once they end
        self._live: set[int] = set()     # jobs started here and not seen ending yet
        self._direct: set[int] = set()   # of those, our own children (reaped with waitpid)
        # pid -> pidfd: a pidfd turns readable when its process ends, so a loop wakes the moment
        # one of its jobs ends; without pidfds it polls every 2 ms
        self._pidfds: dict[int, int] = {}
        self._fd_pids: dict[int, int] = {}
        self._poller = select.poll() if hasattr(os, "pidfd_open") else None
        self._launcher = None            # the launcher (Popen) and the socket its requests go over
        self._requests = None
        self._env = dict(os.environ)   # converted once, not for every job
        mask = current_umask()
        self._env.update(MAESTRO_JOB_UMASK=f"{mask:04o}", MAESTRO_RUNNER_UMASK=f"{mask | 0o002:04o}")
        self._started_at: dict[int, float] = {}   # pid -> when submitted (monotonic)
        self._recent: list[float] = []            # run times of the last jobs seen ending

    def quick(self) -> bool:
        """The last four jobs started here each ran for under QUICK seconds, from submission to
        the moment they were seen ending."""
        return len(self._recent) == 4 and max(self._recent) < QUICK

    @property
    def running_here(self) -> bool:
        """Jobs started by this adapter are still running (``wait_any`` can wait for them)."""
        return bool(self._live)

    def submit(self, script: str, workspace: str, stem: str) -> str:
        started = str(int(time.time() * 100))   # the runner records it (sh cannot read the clock)
        name = script[len(workspace) + 1:]
        if script.startswith(workspace + "/") and "/" not in name:
            script = "./" + name                 # it runs in the workspace: a shorter line to read
        fields = (script, workspace, stem, started)
        pid = None
        if self._poller is not None and not any("\t" in f or "\n" in f for f in fields):
            # ./STEM.sh, the usual script, goes as an empty field: the launcher reads a byte at a time
            pid = self._launch((workspace, stem, started,
                                "" if script == f"./{stem}{self.script_suffix}" else script))
        if pid is None:
            pid = _spawn_detached(["/bin/sh", RUNNER, *fields], self._env)
            self._direct.add(pid)
        self._live.add(pid)
        self._started_at[pid] = time.monotonic()
        self._watch(pid)
        return str(pid)

    def _launch(self, fields: tuple) -> int | None:
        """Have the launcher fork the job; None if there is no launcher to ask (start directly)."""
        if self._launcher is None:
            # requests go over a socket: a send to a launcher that died fails with EPIPE even
            # where SIGPIPE kills (our commands restore its default for `| head`); a pipe would not
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                proc = subprocess.Popen(
                    ["/bin/sh", RUNNER, "--serve"], stdin=theirs.fileno(), stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, cwd="/", env=self._env)
            except OSError:
                ours.close()
                self._poller = None
                return None
            finally:
                theirs.close()
            self._launcher, self._requests = proc, ours
        if self._launcher.poll() is not None:   # it ended (killed?): start another next time
            self._drop_launcher()
            return None
        try:
            self._requests.sendall(("\t".join(fields) + "\n").encode(), socket.MSG_NOSIGNAL)
        except OSError:            # it is gone and never saw the line: start this one directly
            self._drop_launcher()
            return None
        answer = self._launcher.stdout.readline().strip()
        if answer == b"-":
            raise SubmitRefused(f"cannot enter the workspace {fields[0]}")
        if not answer.isdigit():   # it died after reading the line: the job may have started
            self._drop_launcher()
            raise SubmitUncertain("the local launcher ended while starting a job; the next pass "
                                  "looks for the job in its workspace")
        return int(answer)

    def _drop_launcher(self) -> None:
        launcher, self._launcher = self._launcher, None
        for stream in (self._requests, launcher.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        """Let the launcher go (end of its input); the jobs run on."""
        if self._launcher is not None:
            launcher = self._launcher
            self._drop_launcher()
            try:
                launcher.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def _watch(self, pid: int) -> None:
        if self._poller is None:
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError as err:
            if err.errno == errno.ESRCH:   # already ended and reaped by the launcher
                self._live.discard(pid)
            return                         # else (out of descriptors): reap() looks at /proc
        self._pidfds[pid], self._fd_pids[fd] = fd, pid
        self._poller.register(fd, select.POLLIN)

    def query(self, jobs: list[JobRef]) -> Answer:
        """Every job gets an answer from its files and its process; no command runs."""
        self.reap()
        out = {}
        for job in jobs:
            if job.job_id.isdigit() and int(job.job_id) in self._live:
                out[job.job_id] = JobStatus(job.job_id, RUNNING)   # ours, and not ended at reap()
                continue
            ended = _read_exit(job)
            if ended is None and is_alive(job):
                out[job.job_id] = JobStatus(job.job_id, RUNNING)
                continue
            ended = ended or _read_exit(job)  # it may have ended between the two looks
            if ended is None:
                out[job.job_id] = JobStatus(job.job_id, FAILED, reason=_no_record(job))
            else:
                out[job.job_id] = _from_record(job.job_id, ended)
        return Answer(out)

    def cancel(self, jobs: list[JobRef]) -> None:
        """SIGTERM now; SIGKILL after ``kill_grace`` seconds to whatever of the jobs is left (a job
        that ignores SIGTERM).  A pass holds the study lock and must not wait that long, so a
        small detached helper (processes.py kill-after) waits instead, and ends early once the
        jobs have."""
        targets, groups = [], set()
        for job in unique(jobs):
            if is_alive(job):
                members, group = terminate(int(job.job_id))
                targets += members
                if group is not None:
                    groups.add(group)
        if targets:
            self._helpers.add(_spawn_detached(kill_after_argv(self.kill_grace, targets, groups), self._env))
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
        """Notice the jobs started here that ended (and collect our own children, so they do not
        linger as zombies); True if any ended."""
        ended = []
        if self._poller is not None and self._pidfds:
            ended = [self._fd_pids[fd] for fd, _ in self._poller.poll(0)]
        for pid in self._live.difference(self._pidfds):   # not watched: ask waitpid or /proc
            if pid in self._direct:
                try:
                    done = os.waitpid(pid, os.WNOHANG)[0]
                except ChildProcessError:
                    done = pid
            else:
                stat = proc_stat(pid)
                done = stat is None or stat.state in ("Z", "X")
            if done:
                ended.append(pid)
        for pid in ended:
            self._forget(pid)
        for pid in list(self._helpers):   # our children too: no zombies while a loop runs on
            try:
                done = os.waitpid(pid, os.WNOHANG)[0]
            except ChildProcessError:
                done = pid
            if done:
                self._helpers.discard(pid)
        return bool(ended)

    def _forget(self, pid: int) -> None:
        self._live.discard(pid)
        started = self._started_at.pop(pid, None)
        if started is not None:
            self._recent = [*self._recent[-3:], time.monotonic() - started]
        fd = self._pidfds.pop(pid, None)
        if fd is not None:
            del self._fd_pids[fd]
            self._poller.unregister(fd)
            os.close(fd)
        if pid in self._direct:
            self._direct.discard(pid)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def wait_any(self, timeout: float) -> bool:
        """Block until one of the jobs started here ends (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while self._live:
            if self.reap():
                return True
            if self._poller is not None and len(self._pidfds) == len(self._live):
                return bool(self._poller.poll(max(timeout, 0) * 1000)) and self.reap()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.002, remaining))
        return False


def _spawn_detached(argv: list[str], env: dict) -> int:
    """posix_spawn (vfork: fast) into a new session, stdio on /dev/null.

    Python opens every descriptor close-on-exec, so the child inherits only 0-2, and those are
    replaced: a caller capturing our output (a test, a pipe) is never held open by the job.
    """
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    if hasattr(os, "posix_spawn"):   # the runner changes into the workspace itself
        return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
    proc = subprocess.Popen(argv, env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
    return proc.pid


def is_alive(job: JobRef) -> bool:
    """Alive: the pid exists, is not a zombie and runs our runner for this job's workspace (a
    reused pid runs something else): a runner started directly names the workspace on its
    command line; a launched job runs in the workspace and, unlike its launcher, leads no session."""
    if not job.job_id.isdigit():
        return False
    stat = proc_stat(int(job.job_id))
    if stat is None or stat.state in ("Z", "X"):
        return False
    try:
        with open(f"/proc/{job.job_id}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return False
    if not raw:
        return True   # empty while the kernel is still setting up the exec: look again next pass
    argv = raw.split(b"\0")
    if RUNNER.encode() not in argv:
        return False
    if b"--serve" not in argv:
        return job.workspace.encode() in argv
    try:
        here, there = os.stat(f"/proc/{job.job_id}/cwd"), os.stat(job.workspace)
    except OSError:
        return False
    return stat.session != job.job_id and (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _read_exit(job: JobRef) -> dict | None:
    """The job's exit record, with "ended" (when it was written: its modification time) added."""
    try:
        with open(os.path.join(job.workspace, f"{job.stem}.{job.job_id}.exit.json"), "rb") as handle:
            record = orjson.loads(handle.read())
            written = os.fstat(handle.fileno()).st_mtime
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    started = record.get("started")
    if isinstance(started, (int, float)):   # seconds since the epoch, from the submitting clock
        record["started"] = P.epoch_to_iso(started)
        written = max(written, started)     # another clock (an NFS server's) may lag behind it
    record.setdefault("ended", P.epoch_to_iso(written))
    return record


def _no_record(job: JobRef) -> str:
    """Why a job that no longer runs has no readable exit record, as far as its files tell."""
    if not os.path.isdir(job.workspace):
        return "the job ended without an exit record: the workspace is gone (removed by the step?)"
    if os.path.exists(os.path.join(job.workspace, f"{job.stem}.{job.job_id}.exit.json")):
        return "the exit record is empty or damaged (disk full?)"
    return ("the job's process ended without recording an exit code "
            "(killed with SIGKILL, or the machine restarted)")


def _from_record(job_id: str, record: dict) -> JobStatus:
    code, sig = record.get("exit_code"), record.get("signal") or 0
    started, ended = record.get("started"), record.get("ended")
    if code == 0:
        return JobStatus(job_id, FINISHED, 0, None, started, ended)
    reason = f"killed by signal {sig}" if sig else f"exit code {code}"
    return JobStatus(job_id, FAILED, code, reason, started, ended)


UNIT = Scheduler(key="local", extension="sh", adapter=LocalAdapter)
