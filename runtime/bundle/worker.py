"""A bundle's worker: one per node of an allocation, started by the allocation script.

    python -m mruntime.bundle.worker STUDY_DIR ALLOCATION_ID

It renews its lease, claims tickets that fit what is free on its node (cores, GPUs, and the time
left in the allocation less the margin), runs each in its workspace as the step's own script with
its output in ``<stem>.<ticket>.out``/``.err``, and writes ``done/<ticket>.json`` when the step
ends.  It ends itself when nothing is left that it could run: at once once no bundled step waits
for anything, else after ``linger`` idle seconds, and in any case before the allocation's end.

A cancel reaches it as ``kill/<ticket>`` (one step) or ``stop`` (the study); SIGTERM (the
scheduler ending the allocation: walltime, scancel) stops its steps and ends it without a done
record, so that the next pass tells from the allocation's end how they ended.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from mshared.times import iso_utc
from datetime import datetime, timezone

from . import files as F

HEARTBEAT = 5.0      # seconds between lease renewals
CHECK = 1.0          # seconds between looks at kill/ and stop
RESCAN = 0.5         # seconds between looks for new tickets while a core is free
IDLE_GRACE = 2.0     # seconds an idle worker waits when no bundled step waits for parents
KILL_GRACE = 5.0     # seconds between SIGTERM and SIGKILL for a step that must stop
JOB_ID_VARIABLES = ("SLURM_JOB_ID", "LSB_JOBID", "FLUX_JOB_ID", "PBS_JOBID")
_WORKER_SHAPE = frozenset({"SLURM_NTASKS", "SLURM_NPROCS", "SLURM_NTASKS_PER_NODE", "SLURM_TASKS_PER_NODE",
                           "SLURM_STEP_NUM_TASKS", "SLURM_STEP_TASKS_PER_NODE"})


@dataclass
class Run:
    ticket: dict
    process: subprocess.Popen
    pidfd: int
    started: float
    deadline: float | None
    gpus: list[int] = field(default_factory=list)
    stopping: str | None = None     # "timed_out" or "cancelled" once asked to stop
    asked: float = 0.0


def _iso(seconds: float) -> str:
    return iso_utc(datetime.fromtimestamp(seconds, timezone.utc))


class Worker:
    def __init__(self, root: str, alloc: str, *, settings: dict, end: float, clock=time.time):
        self.root, self.alloc = root, alloc
        self.clock = clock
        self.end = end
        self.node = socket.gethostname()
        self.job = next((os.environ[v] for v in JOB_ID_VARIABLES if os.environ.get(v)), alloc)
        self.id = f"{alloc}.{self.node}.{os.getpid()}"
        self.cores = settings.get("cores") or _node_cores()
        self.free_cores = self.cores
        self.free_gpus = list(range(settings.get("gpus") or 0))
        self.margin, self.linger = settings.get("margin", 30), settings.get("linger", 30)
        self.running: dict[int, Run] = {}          # pidfd -> run
        self.known: dict[str, dict] = {}           # unclaimed tickets seen, by id
        self.batches: set[str] = set()             # batch files read
        self.queue: deque[str] = deque()
        self.terminated = False
        self.ran = 0
        # a step's own srun must not inherit the worker's one-task-per-node step shape
        self.env = {k: v for k, v in os.environ.items() if k not in _WORKER_SHAPE}

    # ------------------------------------------------------------------ the loop
    def run(self) -> int:
        F.make_dirs(self.root)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        beat = check = scan = 0.0
        idle_since = self.clock()
        self._beat(False)
        why = "idle"
        while True:
            now = self.clock()
            if self.terminated:
                self._stop_all(None)
                why = "signal"
                break
            if now - check >= CHECK:
                check = now
                if os.path.exists(F.path(self.root, F.STOP)):
                    self._stop_all("cancelled")
                    why = "stop"
                    break
                self._look_at_kills(now)
            self._enforce(now)
            if now - beat >= HEARTBEAT:
                beat = now
                self._beat(False)
            claiming = now < self.end - self.margin
            if claiming and self.free_cores > 0:
                if now - scan >= RESCAN:      # (a core left free by _fill: nothing queued fits)
                    scan = now
                    self._scan()
                self._fill(now)
            if self.running:
                idle_since = now
            elif not claiming:
                why = "allocation ending"
                break
            elif self._fits_nothing(now) and self._done_waiting(now - idle_since):
                break
            self._wait(self._timeout(now, beat, check, scan))
        self._beat(True, why)
        return 143 if why == "signal" else 0

    def _on_term(self, signum, frame) -> None:
        self.terminated = True

    def _timeout(self, now: float, beat: float, check: float, scan: float) -> float:
        due = [beat + HEARTBEAT, check + CHECK]
        if self.free_cores > 0:
            due.append(scan + RESCAN)
        due += [r.deadline for r in self.running.values() if r.deadline is not None]
        return max(min(due) - now, 0.0)

    def _done_waiting(self, idle: float) -> bool:
        if idle >= self.linger:
            return True
        outlook = F.get_json(F.path(self.root, F.OUTLOOK)) or {}
        return idle >= IDLE_GRACE and outlook.get("waiting", 1) == 0

    def _fits_nothing(self, now: float) -> bool:
        return not any(self._fits(self.known[t], now) for t in self.queue if t in self.known)

    # ------------------------------------------------------------------ tickets
    def _scan(self) -> None:
        """Read new batches of tickets; drop what others claimed; queue the rest in order."""
        for name in sorted(F.names(F.path(self.root, F.TICKETS))):
            if name in self.batches or not name.endswith(".jsonl"):
                continue
            self.batches.add(name)
            try:
                with open(F.path(self.root, F.TICKETS, name), "rb") as handle:
                    for line in handle:
                        if line.strip():
                            ticket = F.loads(line)
                            ticket["batch"] = name
                            self.known[ticket["ticket"]] = ticket
            except (OSError, ValueError):
                self.batches.discard(name)
        if not self.known:
            return
        for name in F.names(F.path(self.root, F.CLAIMS)):
            self.known.pop(name, None)
        self.queue = deque(self.known)      # in the order the passes wrote them: graph order

    def _fits(self, ticket: dict, now: float) -> bool:
        cores = min(ticket.get("cores") or 1, self.cores)   # more than the node has: the whole node
        if cores > self.free_cores or (ticket.get("gpus") or 0) > len(self.free_gpus):
            return False
        wall = ticket.get("walltime")
        return wall is None or now + wall <= self.end - self.margin

    def _fill(self, now: float) -> None:
        skipped: list[str] = []
        while self.queue and self.free_cores > 0:
            tid = self.queue.popleft()
            ticket = self.known.get(tid)
            if ticket is None:
                continue
            if not self._fits(ticket, now):
                skipped.append(tid)
                continue
            self.known.pop(tid)
            who = {"worker": self.id, "alloc": self.job, "allocation": self.alloc, "node": self.node,
                   "at": _iso(now)}
            if not F.claim(self.root, tid, who):
                continue
            if self._not_revoked(ticket):
                self._start(ticket, now)
            else:                       # the whole batch was taken back: forget the rest of it
                self.known = {t: k for t, k in self.known.items() if k["batch"] != ticket["batch"]}
        self.queue.extendleft(reversed(skipped))

    def _not_revoked(self, ticket: dict) -> bool:
        """Its batch is still in tickets/: the study was not cancelled.  A cancel renames the
        batches away and writes ``stop``: a step claimed before the rename is stopped by ``stop``,
        one claimed after it is never started."""
        return os.path.exists(F.path(self.root, F.TICKETS, ticket["batch"]))

    def _start(self, ticket: dict, now: float) -> None:
        cores = min(ticket.get("cores") or 1, self.cores)
        gpus = [self.free_gpus.pop(0) for _ in range(ticket.get("gpus") or 0)]
        env = self.env
        if gpus:
            env = dict(env, CUDA_VISIBLE_DEVICES=",".join(map(str, gpus)),
                       ROCR_VISIBLE_DEVICES=",".join(map(str, gpus)))
        workspace, stem, tid = ticket["workspace"], ticket["stem"], ticket["ticket"]
        try:
            with open(os.path.join(workspace, f"{stem}.{tid}.out"), "wb") as out, \
                    open(os.path.join(workspace, f"{stem}.{tid}.err"), "wb") as err:
                process = subprocess.Popen([ticket["script"]], cwd=workspace, stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=err, env=env, start_new_session=True)
        except OSError as error:
            self.free_gpus += gpus
            self._done(ticket, now, now, exit_code=127, signal_number=0, how="exited",
                       reason=f"the worker could not start the step: {error.strerror or error}")
            return
        pidfd = os.pidfd_open(process.pid)
        wall = ticket.get("walltime")
        self.running[pidfd] = Run(ticket, process, pidfd, now, now + wall if wall else None, gpus)
        self.free_cores -= cores
        self.ran += 1

    # ------------------------------------------------------------------ ends
    def _wait(self, timeout: float) -> None:
        fds = list(self.running)
        if not fds:
            time.sleep(min(timeout, RESCAN))
            return
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            ready = []
        for fd in ready:
            self._reap(fd)

    def _reap(self, fd: int) -> None:
        run = self.running.pop(fd)
        code = run.process.wait()
        os.close(fd)
        self.free_cores += min(run.ticket.get("cores") or 1, self.cores)
        self.free_gpus += run.gpus
        if self.terminated and run.stopping is None:
            return          # stopped with the allocation: the next pass tells how from its end
        signal_number = -code if code < 0 else 0
        exit_code = 128 + signal_number if code < 0 else code
        how = run.stopping or "exited"
        self._done(run.ticket, run.started, self.clock(), exit_code=exit_code, signal_number=signal_number, how=how)

    def _done(self, ticket: dict, started: float, ended: float, *, exit_code: int, signal_number: int,
              how: str, reason: str | None = None) -> None:
        record = {"ticket": ticket["ticket"], "step": ticket["step"], "exit_code": exit_code,
                  "signal": signal_number, "how": how, "started": _iso(started), "ended": _iso(ended),
                  "alloc": self.job, "allocation": self.alloc, "node": self.node, "worker": self.id}
        if reason:
            record["reason"] = reason
        F.put_json(F.path(self.root, F.DONE, ticket["ticket"] + ".json"), record)

    def _ask_stop(self, run: Run, why: str | None, now: float) -> None:
        if run.asked:
            return
        run.stopping, run.asked = why, now
        try:
            os.killpg(run.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def _enforce(self, now: float) -> None:
        for run in self.running.values():
            if run.deadline is not None and now >= run.deadline:
                self._ask_stop(run, "timed_out", now)
            if run.asked and now - run.asked >= KILL_GRACE:
                try:
                    os.killpg(run.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _look_at_kills(self, now: float) -> None:
        if not self.running:
            return
        asked = set(F.names(F.path(self.root, F.KILL)))
        for run in self.running.values():
            if run.ticket["ticket"] in asked:
                self._ask_stop(run, "cancelled", now)

    def _stop_all(self, why: str | None) -> None:
        """Stop every step and wait for them (SIGKILL after KILL_GRACE)."""
        now = self.clock()
        for run in self.running.values():
            self._ask_stop(run, why, now)
        while self.running:
            self._enforce(self.clock())
            self._wait(0.2)

    def _beat(self, ended: bool, why: str | None = None) -> None:
        lease = {"worker": self.id, "alloc": self.job, "allocation": self.alloc, "node": self.node,
                 "pid": os.getpid(), "beat": self.clock(), "end": self.end, "cores": self.cores,
                 "free": self.free_cores, "running": len(self.running), "ran": self.ran, "ended": ended}
        if why:
            lease["why"] = why
        try:
            F.put_json(F.path(self.root, F.LEASES, self.id + ".json"), lease)
        except OSError:
            pass        # a full disk: the steps go on; the next beat tries again


def _node_cores() -> int:
    # (LSF's LSB_MAX_NUM_PROCESSORS counts every host's, PBS's NCPUS what was asked: neither is
    # this node's; docs/bundles.md asks for `cores` there)
    for name in ("SLURM_CPUS_ON_NODE",):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m mruntime.bundle.worker STUDY_DIR ALLOCATION_ID", file=sys.stderr)
        return 2
    root, alloc = os.path.abspath(args[0]), args[1]
    settings = F.get_json(F.path(root, F.ALLOC, alloc, "worker.json"))
    if not isinstance(settings, dict):
        print(f"bundle worker: {F.path(root, F.ALLOC, alloc, 'worker.json')} is missing or not JSON; "
              "is STUDY_DIR the study that submitted this allocation?", file=sys.stderr)
        return 65
    end_text = os.environ.get("MAESTRO_BUNDLE_END", "")
    end = float(end_text) if end_text.strip().isdigit() else time.time() + settings["walltime"]
    return Worker(root, alloc, settings=settings, end=end).run()


if __name__ == "__main__":
    sys.exit(main())
