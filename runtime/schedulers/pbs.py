"""PBS Professional / OpenPBS: `#PBS` scripts with an mpiexec launcher, and the adapter (qsub,
qstat -x -f -F json, qdel).  Maestro 1.2.1 has no PBS adapter; the decisions give the commands.

Scripts: directive syntax from the PBS Professional qsub(1B) man page (openpbs/openpbs
doc/man1/qsub.1B): `-N name` (up to 236 printable non-blank characters, starting with a letter or
digit; `[` and `]`, array syntax, become `_`), `-l select=N:ncpus=C:mpiprocs=M[:ngpus=G]`
chunks, `-l place=...:excl`, `-l walltime=HH:MM:SS`, `-q queue`, `-A account`.  With nodes,
`place=scatter` puts each chunk on its own host.  `batch.resource_style: nodes` writes the older
Torque form `-l nodes=N:ppn=M` / `-l procs=P` instead of select.  No `-o`/`-e`: PBS cannot put the
job id in those paths, so fixed names would be overwritten by the next attempt.  PBS's default
names, `<job name>.o<seq>` / `.e<seq>` in the directory qsub ran in (the workspace), keep one log
per attempt.  PBS starts a job in the home directory, so the script first changes to
$PBS_O_WORKDIR (the directory qsub ran in).

* submit: ``qsub <script>`` run with the workspace as working directory.  PBS Pro has no
  ``-d``/``-w`` option: the job starts in the home directory with ``PBS_O_WORKDIR`` set to where
  qsub ran, so the rendered script must ``cd "$PBS_O_WORKDIR"``.  The answer is the job id,
  ``1234.server``.
* status: ONE ``qstat -x -f -F json id1 id2 ...`` (``-x`` includes finished jobs while the server
  keeps their history, job_history_duration, two weeks by default).  Output as in the PBS Pro 19
  transcript in buildtesters/buildtest docs/batch_support.rst::

      {"timestamp":1616013438, "pbs_version":"19.0.0", "pbs_server":"pbs",
       "Jobs":{"40.pbs":{"Job_Name":"pbs_sleep", "job_state":"F", "substate":92,
                         "Exit_status":0, "stime":"Wed Mar 17 20:36:48 2021", ...}}}

  An id the server no longer knows is reported on stderr as ``qstat: Unknown Job Id <id>``
  (openpbs src/cmds/qstat.c, prt_job_err) and becomes UNKNOWN.
* cancel: ONE ``qdel id1 id2 ...``.
* find: ``qstat -x -f -F json`` (all jobs): the user's jobs whose ``PBS_O_WORKDIR`` is one of the
  workspaces.

Exit_status (PBS Pro reference guide, "Job Exit Status Codes"): 0..255 is the script's own exit
status; 256+N means the job was killed by signal N (271 = SIGTERM, what qdel sends); negative values
are PBS's own JOB_EXEC_* codes, e.g. -29 JOB_EXEC_KILL_WALLTIME (walltime exceeded, see
CESNET/metacentrum-user-docs), -27 memory, -25 cpus.
"""

from __future__ import annotations

import json
import math
import os
import re

from mshared import states as S
from mshared.errors import InvalidInput
from ..scripts.headers import (END_VARIABLE, allocation_owner, allocation_script, array_safe, exclusive,
                               header_value, hms, job_name, quote_argv, resources, walltime_seconds)
from . import _parse as P
from .base import Adapter, Answer, FoundJob, JobRef, JobStatus, Scheduler, unavailable

UNREACHABLE = (
    "cannot connect to server",
    "Connection refused",
    "Communication failure",
    "pbs_iff",
    "No route to host",
    "could not connect to",
    "Server is not available",
)
STATE_MAP = {
    "Q": S.PENDING,
    "T": S.PENDING,        # in transit between servers
    "H": S.PENDING,        # held
    "W": S.WAITING,        # waiting for its execution time (qsub -a) or a stage-in
    "R": S.RUNNING,
    "B": S.RUNNING,        # array job: at least one subjob started
    "S": S.RUNNING,        # suspended: keeps its resources, will resume
    "U": S.RUNNING,        # suspended because the workstation is busy
    "E": S.FINISHING,      # exiting after having run
}
STATE_WORDS = {"H": "held", "S": "suspended", "U": "suspended (workstation busy)",
               "T": "in transit", "W": "waiting for its start time"}
# JOB_EXEC_* codes (openpbs src/include/job.h)
EXEC_CODES = {
    -1: "JOB_EXEC_FAIL1", -2: "JOB_EXEC_FAIL2", -3: "JOB_EXEC_RETRY", -4: "JOB_EXEC_INITABT",
    -5: "JOB_EXEC_INITRST", -6: "JOB_EXEC_INITRMG", -7: "JOB_EXEC_BADRESRT",
    -10: "JOB_EXEC_FAILUID", -11: "JOB_EXEC_RERUN", -12: "JOB_EXEC_CHKP",
    -13: "JOB_EXEC_FAIL_PASSWORD", -14: "JOB_EXEC_RERUN_ON_SIS_FAIL", -15: "JOB_EXEC_QUERST",
    -16: "JOB_EXEC_FAILHOOK_RERUN", -17: "JOB_EXEC_FAILHOOK_DELETE", -18: "JOB_EXEC_HOOK_RERUN",
    -19: "JOB_EXEC_HOOK_DELETE", -20: "JOB_EXEC_RERUN_MS_FAIL", -21: "JOB_EXEC_FAIL_SECURITY",
    -22: "JOB_EXEC_HOOKERROR", -23: "JOB_EXEC_FAIL_KRB5", -24: "JOB_EXEC_KILL_NCPUS_BURST",
    -25: "JOB_EXEC_KILL_NCPUS_SUM", -26: "JOB_EXEC_KILL_VMEM", -27: "JOB_EXEC_KILL_MEM",
    -28: "JOB_EXEC_KILL_CPUT", -29: "JOB_EXEC_KILL_WALLTIME", -30: "JOB_EXEC_JOINJOB",
}
KILL_WALLTIME = -29
HW_CODES = {-20}                 # the mother superior node failed
SUBSTATE_TERMINATED = 91         # history substate of a deleted job (qdel)
SIGTERM_STATUS = 256 + 15
_UNKNOWN_ID = re.compile(r"Unknown Job Id (\S+)")
_JOBID = re.compile(r"^\d+(\[\d*\])?(\.\S+)?$")


def seq(job_id: str) -> str:
    """``1234.server.example.com`` -> ``1234`` (the server part may be spelled differently)."""
    return job_id.strip().split(".", 1)[0]


def _seconds(hms) -> int | None:
    if hms is None:
        return None
    parts = str(hms).split(":")
    try:
        total = 0
        for p in parts:
            total = total * 60 + int(float(p))
        return total
    except ValueError:
        return None


def _dig(job: dict, group: str, key: str):
    """``job[group][key]`` (JSON) or ``job["group.key"]``."""
    inner = job.get(group)
    if isinstance(inner, dict) and key in inner:
        return inner[key]
    return job.get(f"{group}.{key}")


def make_status(job_id: str, job: dict) -> JobStatus:
    st = str(job.get("job_state", "")).strip().upper()
    substate = P.to_int(job.get("substate"))
    exit_status = P.to_int(job.get("Exit_status"))
    started = P.ctime_local(job.get("stime"))
    comment = str(job.get("comment") or "").strip() or None
    if st not in ("F", "X"):
        if st == "M":
            return JobStatus(job_id, S.UNKNOWN, reason="job moved to another PBS server")
        state = STATE_MAP.get(st)
        if state is None:
            return JobStatus(job_id, S.UNKNOWN, reason=f"unrecognised PBS job_state {st!r}")
        return JobStatus(job_id, state, reason=STATE_WORDS.get(st) or None,
                         started=started if state in (S.RUNNING, S.FINISHING) else None)

    ended = P.ctime_local(job.get("obittime")) or P.ctime_local(job.get("mtime"))
    used = _seconds(_dig(job, "resources_used", "walltime"))
    limit = _seconds(_dig(job, "Resource_List", "walltime"))
    over_walltime = used is not None and limit is not None and limit > 0 and used >= limit
    code = None
    reason = None
    if exit_status == KILL_WALLTIME or (exit_status == SIGTERM_STATUS and over_walltime):
        state, reason = S.TIMEDOUT, "walltime exceeded"
    elif substate == SUBSTATE_TERMINATED or exit_status == SIGTERM_STATUS:
        state, reason = S.CANCELLED, "deleted (qdel)"
    elif exit_status is None:
        state, reason = S.UNKNOWN, "finished without an exit status"
    elif exit_status == 0:
        state, code = S.FINISHED, 0
    elif 0 < exit_status < 256:
        state, code, reason = S.FAILED, exit_status, None
    elif exit_status >= 256:
        state, reason = S.FAILED, f"killed by signal {exit_status - 256}"
    else:
        name = EXEC_CODES.get(exit_status, "JOB_EXEC_*")
        state = S.HWFAILURE if exit_status in HW_CODES else S.FAILED
        reason = f"PBS {name} ({exit_status})"
    if comment and state != S.FINISHED:
        reason = f"{reason}; {comment}" if reason else comment
    return JobStatus(job_id, state, exit_code=code, reason=reason, started=started, ended=ended)


def _workdir(job: dict) -> str | None:
    var = job.get("Variable_List")
    if isinstance(var, dict):
        value = var.get("PBS_O_WORKDIR")
    elif isinstance(var, str):                  # older servers: "K=V,K=V"
        m = re.search(r"(?:^|,)PBS_O_WORKDIR=([^,]*)", var)
        value = m.group(1) if m else None
    else:
        value = job.get("Variable_List.PBS_O_WORKDIR")
    return os.path.normpath(value) if value else None


class PbsAdapter(Adapter):
    name = "PBS server"
    unreachable = UNREACHABLE
    benign_cancel = ("Job has finished", "Unknown Job Id", "Request invalid for state of job",
                     "job is being deleted")
    forgotten = "job no longer known to PBS (history expired after job_history_duration)"
    unreported = "qstat reported nothing for this job"

    def _jobs_json(self, res) -> dict:
        """The ``Jobs`` object of qstat's JSON; SchedulerUnavailable when it is not JSON."""
        text = res.stdout.strip()
        if not text:
            return {}
        try:
            data = json.loads(text, strict=False)       # PBS leaves control characters raw
        except ValueError as err:
            raise unavailable("qstat -F json printed something that is not JSON",
                              detail=f"{err}; starts {P.clip(text, 120)!r}") from None
        if not isinstance(data, dict):
            raise unavailable("qstat -F json printed unexpected JSON", detail=P.clip(text, 120))
        jobs = data.get("Jobs") or {}
        return jobs if isinstance(jobs, dict) else {}

    # ------------------------------------------------------------------ submit
    def submit_command(self, script: str, workspace: str) -> tuple[list[str], None]:
        return ["qsub", script], None              # run in the workspace: PBS_O_WORKDIR

    def job_id(self, stdout: str) -> str | None:
        lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
        return lines[-1] if lines and _JOBID.match(lines[-1]) else None

    # ------------------------------------------------------------------ status
    def query(self, jobs: list[JobRef]) -> Answer:
        ids = [job.job_id for job in jobs]
        res = self.call(["qstat", "-x", "-f", "-F", "json", *ids])
        unknown = {seq(m.group(1)) for m in _UNKNOWN_ID.finditer(res.stderr or "")}
        if res.returncode != 0 and not unknown:
            raise self.failure(res, "cannot read job states")
        records = self._jobs_json(res)
        by_id = {k: v for k, v in records.items() if isinstance(v, dict)}
        by_seq = {seq(k): v for k, v in by_id.items()}
        states: dict[str, JobStatus] = {}
        for jid in ids:
            rec = by_id.get(jid) or by_seq.get(seq(jid))
            if rec is not None:
                states[jid] = make_status(jid, rec)
        return Answer(states, {jid for jid in ids if seq(jid) in unknown})

    # ------------------------------------------------------------------ cancel
    def cancel_command(self, ids: list[str]) -> list[str]:
        return ["qdel", *ids]

    # ------------------------------------------------------------------ find
    def find(self, workspaces: list[str]) -> list[FoundJob]:
        wanted = {os.path.normpath(w) for w in workspaces}
        if not wanted:
            return []
        res = self.call(["qstat", "-x", "-f", "-F", "json"])
        if res.returncode != 0:
            raise self.failure(res, "cannot list jobs")
        user = P.current_user()
        found = []
        for jid, job in self._jobs_json(res).items():
            if not isinstance(job, dict):
                continue
            owner = str(job.get("Job_Owner", ""))
            if owner and owner.split("@", 1)[0] != user:
                continue
            wd = _workdir(job)
            if wd in wanted:
                found.append(FoundJob(jid, wd, str(job.get("Job_Name", ""))))
        return found


# ---------------------------------------------------------------------- scripts
DEFAULT_LAUNCHER = "mpiexec -n {procs}"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def pbs_job_name(step: dict) -> str:
    name = array_safe(job_name(step))
    if not (name[:1].isascii() and name[:1].isalnum()):
        name = "m" + name
    return name[:236]


def _chunks(res: dict) -> tuple[int | None, int, int]:
    """(nodes, MPI processes per node, CPUs per node) of the request."""
    nodes, procs = res.get("nodes"), res.get("procs")
    cores = res.get("cores_per_task") or 1
    if nodes:
        per_node = math.ceil(procs / nodes) if procs else 1
        return nodes, per_node, per_node * cores
    return None, 1, cores


def header(step: dict, batch: dict, shell: str) -> str:
    res = resources(step)
    nodes, per_node, cpus = _chunks(res)
    style = batch.get("resource_style") or "select"
    if style not in ("select", "nodes"):
        raise InvalidInput(f"batch.resource_style must be 'select' or 'nodes', not {style!r}")
    if res.get("gpus") and not nodes:
        raise InvalidInput(f"step '{step['id']}': gpus under PBS needs run.nodes (ngpus is asked "
                           "for per node)")
    lines = [f"#!{shell}", f"#PBS -N {pbs_job_name(step)}"]
    if style == "select":
        count = nodes or res.get("procs")
        chunk = f"{count}:ncpus={cpus}:mpiprocs={per_node}"
        if res.get("gpus"):
            chunk += f":ngpus={res['gpus']}"
        lines.append(f"#PBS -l select={chunk}")
        # nodes means distinct hosts (one chunk each); the default placement may pack chunks
        place = ["scatter"] if nodes else []
        if exclusive(res.get("exclusive"))["allocation"]:
            place.append("excl")
        if place:
            lines.append(f"#PBS -l place={':'.join(place)}")
    elif nodes:
        lines.append(f"#PBS -l nodes={nodes}:ppn={cpus}")
    else:
        lines.append(f"#PBS -l procs={res['procs']}")
    seconds = walltime_seconds(res.get("walltime"), step)
    if seconds:
        lines.append(f"#PBS -l walltime={hms(seconds)}")
    if batch.get("queue"):
        lines.append(f"#PBS -q {header_value(batch['queue'], 'batch.queue', step)}")
    if batch.get("bank"):
        lines.append(f"#PBS -A {header_value(batch['bank'], 'batch.bank', step)}")
    lines.append('cd "$PBS_O_WORKDIR"')
    return "\n".join(lines)


def parallelize(step: dict, batch: dict, procs: int, nodes: int | None) -> str:
    """batch.launcher with {procs}, {nodes}, {ppn} (tasks per node) and {cores_per_task}."""
    template = str(batch.get("launcher") or DEFAULT_LAUNCHER)
    res = resources(step)
    values = {"procs": procs, "nodes": nodes, "cores_per_task": res.get("cores_per_task") or 1,
              "ppn": math.ceil(procs / nodes) if nodes else procs}

    def fill(match):
        key = match.group(1)
        if key not in values:
            raise InvalidInput(f"batch.launcher {template!r}: unknown placeholder {{{key}}}; use "
                               "{procs}, {nodes}, {ppn} or {cores_per_task}")
        if values[key] is None:
            raise InvalidInput(f"step '{step['id']}': batch.launcher uses {{{key}}}, but the "
                               "command asks for no node count")
        return str(values[key])

    return header_value(_PLACEHOLDER.sub(fill, template), "batch.launcher", step, spaces=True)


def allocation(batch: dict, settings: dict, name: str, workdir: str, worker: list[str], shell: str) -> str:
    """A bundle's allocation: ``settings["nodes"]`` chunks, one per host and the hosts to itself
    (``place=scatter:excl``), each of ``cores`` CPUs (1 without them: give bundle.cores, PBS
    may confine the job to the CPUs it asked for) and ``gpus`` GPUs, for ``settings["walltime"]``
    seconds.  Always the select form (the adapter needs PBS Professional / OpenPBS anyway):
    ``batch.resource_style: nodes`` would make each chunk ``ppn`` lines of $PBS_NODEFILE, and
    pbsdsh one worker per line.  No ``-o``/``-e``: the logs are PBS's ``<name>.o<seq>`` /
    ``.e<seq>`` in the directory qsub ran in, the work directory.

    The worker line follows pbsdsh(1B) and tm(3) of OpenPBS (doc/man1/pbsdsh.1B, doc/man3/tm.3,
    src/cmds/pbsdsh.c): pbsdsh spawns the program once for each line of $PBS_NODEFILE (one per
    chunk here: ``mpiprocs=1``), through the MoMs' task manager, and waits for every task to end.
    A task spawned that way gets the job's environment as the MoM set it up, not the batch
    script's, and starts in the home directory; so MAESTRO_BUNDLE_END goes through env(1) on
    the command line and ``sh -c`` changes to the work directory before it runs the worker.
    pbsdsh exits 0 once its tasks have ended, whatever their exit status (it prints the non-zero
    ones): under PBS the allocation's exit status does not say that a worker failed.
    """
    owner = allocation_owner(name)
    nodes = int(settings["nodes"])
    job = pbs_job_name({"stem": header_value(name, "the job name", owner)})
    chunk = f"{nodes}:ncpus={int(settings.get('cores') or 1)}:mpiprocs=1"
    if settings.get("gpus"):
        chunk += f":ngpus={int(settings['gpus'])}"
    lines = [f"#PBS -N {job}", f"#PBS -l select={chunk}", "#PBS -l place=scatter:excl",
             f"#PBS -l walltime={hms(settings['walltime'])}"]
    if batch.get("queue"):
        lines.append(f"#PBS -q {header_value(batch['queue'], 'batch.queue', owner)}")
    if batch.get("bank"):
        lines.append(f"#PBS -A {header_value(batch['bank'], 'batch.bank', owner)}")
    in_workdir = quote_argv(["/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", workdir])
    launch = (f'pbsdsh -- /usr/bin/env "{END_VARIABLE}=${END_VARIABLE}" {in_workdir} '
              + quote_argv(worker))
    return allocation_script(owner, shell, lines, workdir, settings["walltime"], [launch])


UNIT = Scheduler(key="pbs", extension="pbs.sh", adapter=PbsAdapter, header=header, parallelize=parallelize,
                 allocation=allocation)
