"""SLURM: `#SBATCH` scripts with an `srun` launcher, and the adapter (sbatch, scontrol show job,
sacct, scancel, squeue).

Scripts: the header is Maestro 1.2.1's slurmscriptadapter's, with one deliberate difference:
output files are `<job>.%j.out` / `.%j.err` (Maestro: `<job>.out`), so each attempt and restart
keeps its own log, as local steps keep `<stem>.<pid>.out`.

Status of a whole pass is ONE call, ``scontrol show job -o`` without a job id: one line per job
slurmctld still knows, with JobState, Reason, ExitCode N:S, StartTime, EndTime and WorkDir.  It is
the only client query that gives the exit code of a finished job without accounting (squeue has
no exit-code field in 22.05: ``squeue -O ExitCode`` is "Invalid job format specification"), and
unlike ``scontrol show job ID`` it takes any number of jobs and has no "Invalid job id specified"
failure for a single purged id.  The price is that the answer covers every job in the cluster
(bench/README.md, "Figures behind the scheduler code", has the size per job); we keep the lines of
our ids.

Jobs slurmctld has purged (MinJobAge after they ended, 300 s by default) get ONE batched follow-up:
``sacct -n -P -X -j a,b,...`` (slurmdbd).  Without slurmdbd that answers "Slurm accounting
storage is disabled"; then the job-completion log is asked instead (``sacct -c``, needs
JobCompType=jobcomp/filetxt), and the adapter remembers which one works.  An id neither knows is
UNKNOWN with the reason "job no longer known to SLURM", never FINISHED.

Times: SLURM prints local wall-clock times without a zone; they are converted with this process's
local time zone (the one the client used to print them) to UTC ISO 'Z'.
"""

from __future__ import annotations

from mshared import states as S
from ..scripts.headers import (allocation_owner, allocation_script, comment_text, exclusive, header_value,
                               hms, job_name, quote_argv, resources)
from . import _parse as P
from .base import Adapter, Answer, FoundJob, JobRef, JobStatus, Scheduler, unavailable

# Words in an answer that mean "could not talk to slurmctld", as opposed to "it refused".
# (README §5 gotcha 8: "Unable to contact slurm controller (connect failure)"; the others are the
# protocol errors slurm_strerror gives for lost or refused connections and munge failures.)
UNREACHABLE = (
    "Unable to contact slurm controller",
    "Socket timed out on send/recv",
    "Zero Bytes were transmitted or received",
    "Communication connection failure",
    "Connection refused",
    "Connection timed out",
    "Unable to establish",
    "slurmctld is not responding",
    "Munge encode failed",
    "Munge decode failed",
    "Invalid authentication credential",
    "Slurm backup controller in standby mode",
)

# scontrol JobState / squeue %T / sacct State (first word) -> Maestro state.
# Maestro 1.2.1 maps R, PD, CG, CD, NF, TO, ST, F, CA; everything else it calls UNKNOWN, which
# Maestro then treats as a failure.  Our choices for the rest are in docs/schedulers.md.
STATE_MAP = {
    "PENDING": S.PENDING,
    "REQUEUED": S.PENDING,          # requeued, will be scheduled again
    "REQUEUE_HOLD": S.PENDING,
    "REQUEUE_FED": S.PENDING,
    "RESV_DEL_HOLD": S.PENDING,
    "CONFIGURING": S.RUNNING,       # resources allocated, nodes booting
    "RUNNING": S.RUNNING,
    "RESIZING": S.RUNNING,
    "SIGNALING": S.RUNNING,
    "SUSPENDED": S.RUNNING,         # still holds its allocation and will resume
    "STOPPED": S.RUNNING,           # SIGSTOP'ed by scontrol; Maestro's ST->FAILED would end a live job
    "COMPLETING": S.FINISHING,
    "STAGE_OUT": S.FINISHING,
    "COMPLETED": S.FINISHED,
    "FAILED": S.FAILED,
    "OUT_OF_MEMORY": S.FAILED,
    "DEADLINE": S.FAILED,           # not TIMEDOUT: a restart could not meet a passed deadline
    "SPECIAL_EXIT": S.FAILED,
    "TIMEOUT": S.TIMEDOUT,
    "CANCELLED": S.CANCELLED,       # sacct: "CANCELLED by 0"
    "REVOKED": S.CANCELLED,         # federation: the job runs on another cluster
    "NODE_FAIL": S.HWFAILURE,
    "BOOT_FAIL": S.HWFAILURE,
    "PREEMPTED": S.HWFAILURE,       # not the job's fault: resubmit, as Maestro does for HWFAILURE
}
# Short codes (squeue %t), for completeness.
SHORT_CODES = {
    "PD": "PENDING", "R": "RUNNING", "CG": "COMPLETING", "CD": "COMPLETED", "F": "FAILED",
    "TO": "TIMEOUT", "CA": "CANCELLED", "NF": "NODE_FAIL", "BF": "BOOT_FAIL", "OOM": "OUT_OF_MEMORY",
    "DL": "DEADLINE", "PR": "PREEMPTED", "S": "SUSPENDED", "ST": "STOPPED", "CF": "CONFIGURING",
    "RQ": "REQUEUED", "RH": "REQUEUE_HOLD", "RS": "RESIZING", "RV": "REVOKED", "SE": "SPECIAL_EXIT",
    "SI": "SIGNALING", "SO": "STAGE_OUT",
}
_STARTED = {S.RUNNING, S.FINISHING}
FORGOTTEN = "job no longer known to SLURM (purged from slurmctld after MinJobAge, and no accounting record)"
_NO_ACCOUNTING = "accounting storage is disabled"


def map_state(word: str) -> str:
    word = (word or "").strip().split(" ")[0].upper()     # "CANCELLED by 0" -> CANCELLED
    word = SHORT_CODES.get(word, word)
    return STATE_MAP.get(word, S.UNKNOWN)


def split_exit(text: str | None) -> tuple[int | None, int | None]:
    """``N:S`` -> (exit status N, signal S)."""
    if not text or ":" not in text:
        return P.to_int(text), None
    n, _, s = text.partition(":")
    return P.to_int(n), P.to_int(s)


def make_status(job_id: str, state_word: str, exit_text: str | None, reason: str | None,
                start: str | None, end: str | None, source: str | None = None) -> JobStatus:
    state = map_state(state_word)
    code, signal = split_exit(exit_text)
    notes = []
    if reason and reason.strip() and reason.strip() not in ("None", "(null)"):
        notes.append(reason.strip())
    if signal:
        notes.append(f"signal {signal}")
    if state == S.UNKNOWN:
        notes.insert(0, f"unrecognised SLURM state {state_word.strip()!r}")
    if source:
        notes.append(source)
    exit_code = None
    if state in S.TERMINAL or state in (S.HWFAILURE, S.UNKNOWN):
        # N is the script's exit status only when no signal ended it; a cancelled, timed-out or
        # failed-node job has no exit status of its own (sacct -c even reports 0:0 for them)
        exit_code = code if code is not None and not signal else None
        if exit_code == 0 and state in (S.CANCELLED, S.TIMEDOUT, S.HWFAILURE):
            exit_code = None
    started = P.slurm_time(start) if (state in _STARTED or state in S.TERMINAL
                                      or state == S.HWFAILURE) else None
    ended = P.slurm_time(end) if (state in S.TERMINAL or state == S.HWFAILURE) else None
    return JobStatus(job_id=job_id, state=state, exit_code=exit_code,
                     reason="; ".join(notes) or None, started=started, ended=ended)


def parse_scontrol(text: str) -> dict[str, dict[str, str]]:
    """``scontrol show job -o`` -> {JobId: fields}.  Array tasks are keyed ``<ArrayJobId>_<task>``
    as well, since that is how sbatch --array ids are written."""
    jobs: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.startswith("JobId="):
            continue
        rec = P.key_values(line)
        jid = rec.get("JobId", "").strip()
        if not jid:
            continue
        jobs[jid] = rec
        if rec.get("ArrayJobId") and rec.get("ArrayTaskId") not in (None, "", "N/A"):
            jobs.setdefault(f"{rec['ArrayJobId']}_{rec['ArrayTaskId']}", rec)
    return jobs


class SlurmAdapter(Adapter):
    name = "SLURM controller"
    unreachable = UNREACHABLE
    benign_cancel = ("Invalid job id", "already completed", "Job/step already completing or completed")
    forgotten = FORGOTTEN

    # which accounting the purged-job follow-up uses: None = not yet known, "slurmdbd", "jobcomp"
    _accounting: str | None = None

    # ------------------------------------------------------------------ submit
    def submit_command(self, script: str, workspace: str) -> tuple[list[str], None]:
        return ["sbatch", "--parsable", "-D", workspace, script], None

    def job_id(self, stdout: str) -> str | None:
        return P.leading_int(stdout)       # "123" or "123;cluster"

    # ------------------------------------------------------------------ status
    def query(self, jobs: list[JobRef]) -> Answer:
        res = self.call(["scontrol", "show", "job", "-o"])
        if res.returncode != 0 and "Invalid job id" not in P.output_of(res):
            raise self.failure(res, "cannot read job states")
        known = parse_scontrol(res.stdout)
        if not known and res.stdout.strip() and "No jobs in the system" not in res.stdout:
            raise unavailable("unexpected output from 'scontrol show job -o'",
                              detail=P.clip(res.stdout, 200))
        states: dict[str, JobStatus] = {}
        missing = []
        for jid in (job.job_id for job in jobs):
            rec = known.get(jid)
            if rec is None:
                missing.append(jid)
            elif "JobState" not in rec:
                states[jid] = JobStatus(jid, S.UNKNOWN, reason="scontrol printed no JobState for this job")
            else:
                states[jid] = make_status(jid, rec["JobState"], rec.get("ExitCode"), rec.get("Reason"),
                                          rec.get("StartTime"), rec.get("EndTime"))
        if missing:
            states.update(self._from_accounting(missing))
        return Answer(states, unknown=set(missing))

    def _from_accounting(self, ids: list[str]) -> dict[str, JobStatus]:
        """ONE batched follow-up for purged ids (two only the first time accounting is missing)."""
        fields = ["-n", "-P", "-j", ",".join(ids), "-o", "JobID,State,ExitCode,Start,End"]
        found: dict[str, JobStatus] = {}
        mode = type(self)._accounting
        if mode in (None, "slurmdbd"):
            res = self.call(["sacct", "-X", *fields])
            text = P.output_of(res)
            if res.returncode == 0:
                type(self)._accounting = "slurmdbd"
                found = self._parse_sacct(res.stdout, ids, "from accounting (sacct)")
            elif _NO_ACCOUNTING in text.lower():
                type(self)._accounting = mode = "jobcomp"
            elif P.matches_any(text, UNREACHABLE):
                raise unavailable("SLURM accounting is not reachable", res)
            else:
                raise unavailable("cannot read finished jobs from accounting", res)
        if type(self)._accounting == "jobcomp":
            res = self.call(["sacct", "-c", *fields])
            if res.returncode == 0:
                found = self._parse_sacct(res.stdout, ids, "from the job completion log (sacct -c)")
            # else: no jobcomp log either; the ids are simply not known any more
        return found

    @staticmethod
    def _parse_sacct(text: str, ids: list[str], source: str) -> dict[str, JobStatus]:
        wanted = set(ids)
        out: dict[str, JobStatus] = {}
        for line in text.splitlines():
            parts = line.split("|")
            if len(parts) < 5:
                continue
            jid = parts[0].strip()
            if jid in wanted and jid not in out:     # -X / -c: one record per job
                out[jid] = make_status(jid, parts[1], parts[2], None, parts[3], parts[4], source)
        return out

    # ------------------------------------------------------------------ cancel
    def cancel_command(self, ids: list[str]) -> list[str]:
        return ["scancel", "--quiet", *ids]          # --quiet: no error for jobs that already ended

    # ------------------------------------------------------------------ find
    def find(self, workspaces: list[str]) -> list[FoundJob]:
        wanted = sorted({w.rstrip("/") or "/" for w in workspaces}, key=len, reverse=True)
        if not wanted:
            return []
        user = P.current_user()
        res = self.call(["squeue", "-h", "-t", "all", "-u", user, "-o", "%i|%Z|%j"])
        if res.returncode != 0:
            raise self.failure(res, "cannot list jobs")
        found = []
        for line in res.stdout.splitlines():
            jid, sep, rest = line.partition("|")
            if not sep:
                continue
            for ws in wanted:                        # the work directory may itself contain '|'
                if rest.startswith(ws + "|"):
                    found.append(FoundJob(job_id=jid.strip(), workspace=ws, name=rest[len(ws) + 1:]))
                    break
        return found


# ---------------------------------------------------------------------- scripts
# Batch keys that reach the header (Maestro's adapter keeps these; everything else is ignored).
_BATCH_KEYS = ("nodes", "host", "bank", "queue", "reservation", "qos", "procs")


def header(step: dict, batch: dict, shell: str) -> str:
    merged = {key: batch[key] for key in _BATCH_KEYS if batch.get(key)}
    procs_in_batch = "procs" in merged
    merged.update({key: value for key, value in resources(step).items() if value})
    nodes = merged.get("nodes")
    name = job_name(step)

    def value(key, quoted=False):
        return header_value(merged[key], f"'{key}'", step, quoted)

    lines = [f"#!{shell}"]
    if nodes:
        lines.append(f"#SBATCH --nodes={value('nodes')}")
    if merged.get("queue"):
        lines.append(f"#SBATCH --partition={value('queue')}")
    if merged.get("bank"):
        lines.append(f"#SBATCH --account={value('bank')}")
    if merged.get("walltime"):
        lines.append(f"#SBATCH --time={value('walltime')}")
    lines.append(f'#SBATCH --job-name="{name}"')
    logs = name.replace("%", "%%")   # sbatch expands %x, %u, ... in file names; %% is a '%'
    lines.append(f'#SBATCH --output="{logs}.%j.out"')
    lines.append(f'#SBATCH --error="{logs}.%j.err"')
    comment = comment_text(step.get("description"))
    if comment:
        lines.append(f'#SBATCH --comment "{comment}"')
    if merged.get("reservation"):
        lines.append(f'#SBATCH --reservation="{value("reservation", quoted=True)}"')
    if merged.get("gpus"):
        lines.append(f"#SBATCH --gres=gpu:{value('gpus')}")
    if procs_in_batch or not nodes:
        lines.append(f"#SBATCH --ntasks={value('procs')}")
    if exclusive(merged.get("exclusive"))["allocation"]:
        lines.append("#SBATCH --exclusive")
    if merged.get("qos"):
        lines.append(f"#SBATCH --qos={value('qos')}")
    return "\n".join(lines)


def parallelize(step: dict, batch: dict, procs: int, nodes: int | None) -> str:
    args = ["srun", "-n", str(procs)]
    if nodes:
        args += ["-N", str(nodes)]
    cores = resources(step).get("cores_per_task")
    if cores:
        args += ["-c", str(cores)]
    return " ".join(args)


def allocation(batch: dict, settings: dict, name: str, workdir: str, worker: list[str], shell: str) -> str:
    """A bundle's allocation: ``settings["nodes"]`` whole nodes (``--exclusive``, as a step's
    ``exclusive: true``) for ``settings["walltime"]`` seconds, one worker per node.

    The worker line follows srun(1) of Slurm 22.05 (the man page of Debian 12's slurm-client):
    ``--ntasks-per-node=1`` with ``--nodes``/``--ntasks`` gives one task per node; without
    ``--exact`` a step gets every CPU (and the GRES the job asked for) of its nodes, so the worker
    and what it starts are not confined to one CPU; ``--overlap`` lets other steps share those
    resources, and ``SLURM_OVERLAP=1`` (srun's environment form of ``--overlap``), exported before
    it, is inherited by the worker and so by the srun calls of the steps it runs: without it they
    would wait for resources the worker's step holds.  ``--kill-on-bad-exit=0``: one worker that
    fails does not end the others.  srun waits for all its tasks and exits with the highest task
    exit status (srun(1), "RETURN VALUE"), which is the script's.
    """
    owner = allocation_owner(name)
    nodes = int(settings["nodes"])

    def value(key, quoted=False):
        return header_value(batch[key], f"batch.{key}", owner, quoted)

    job = header_value(name, "the job name", owner, quoted=True)
    logs = job.replace("%", "%%")
    lines = [f"#SBATCH --nodes={nodes}", "#SBATCH --ntasks-per-node=1"]
    if batch.get("queue"):
        lines.append(f"#SBATCH --partition={value('queue')}")
    if batch.get("bank"):
        lines.append(f"#SBATCH --account={value('bank')}")
    lines.append(f"#SBATCH --time={hms(settings['walltime'])}")
    lines.append(f'#SBATCH --job-name="{job}"')
    lines.append(f'#SBATCH --output="{logs}.%j.out"')
    lines.append(f'#SBATCH --error="{logs}.%j.err"')
    if batch.get("reservation"):
        lines.append(f'#SBATCH --reservation="{value("reservation", quoted=True)}"')
    if settings.get("gpus"):
        lines.append(f"#SBATCH --gres=gpu:{int(settings['gpus'])}")
    if settings.get("cores"):
        lines.append(f"#SBATCH --mincpus={int(settings['cores'])}")
    lines.append("#SBATCH --exclusive")
    if batch.get("qos"):
        lines.append(f"#SBATCH --qos={value('qos')}")
    launch = ["export SLURM_OVERLAP=1",
              f"srun --nodes={nodes} --ntasks={nodes} --ntasks-per-node=1 --overlap --kill-on-bad-exit=0 "
              + quote_argv(worker)]
    return allocation_script(owner, shell, lines, workdir, settings["walltime"], launch)


UNIT = Scheduler(key="slurm", extension="slurm.sh", adapter=SlurmAdapter, header=header,
                 parallelize=parallelize, allocation=allocation)
