"""PBS Professional / OpenPBS adapter: qsub, qstat -x -f -F json, qdel, qstat -B.

Maestro 1.2.1 has no PBS adapter; the decisions give the commands.

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
import os
import re

from mshared import states as S
from . import _parse as P
from .base import Adapter, FoundJob, JobRef, JobStatus, SubmitRefused

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
    key = "pbs"
    script_suffix = ".pbs.sh"

    def _raise(self, res, what):
        if P.matches_any(P.output_of(res), UNREACHABLE):
            raise P.unavailable("PBS server is not reachable", res)
        raise P.unavailable(what, res)

    def _jobs_json(self, res) -> dict:
        """The ``Jobs`` object of qstat's JSON; SchedulerUnavailable when it is not JSON."""
        text = res.stdout.strip()
        if not text:
            return {}
        try:
            data = json.loads(text, strict=False)       # PBS leaves control characters raw
        except ValueError as err:
            raise P.unavailable("qstat -F json printed something that is not JSON",
                                detail=f"{err}; starts {P.clip(text, 120)!r}") from None
        if not isinstance(data, dict):
            raise P.unavailable("qstat -F json printed unexpected JSON", detail=P.clip(text, 120))
        jobs = data.get("Jobs") or {}
        return jobs if isinstance(jobs, dict) else {}

    # ------------------------------------------------------------------ submit
    def submit(self, script: str, workspace: str, stem: str) -> str:
        P.require_paths(script, workspace)
        res = self.run(["qsub", script], timeout=self.timeout, cwd=workspace)
        out = P.output_of(res)
        if res.returncode != 0:
            if P.matches_any(out, UNREACHABLE):
                raise P.unavailable("PBS server is not reachable", res)
            raise SubmitRefused(P.clip(out) or f"qsub exited {res.returncode}")
        lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
        if not lines or not _JOBID.match(lines[-1]):
            raise P.unavailable("qsub answered without a job id", res, uncertain=True)
        return lines[-1]

    # ------------------------------------------------------------------ status
    def status(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        ids = list(dict.fromkeys(j.job_id for j in jobs))
        if not ids:
            return {}
        res = self.run(["qstat", "-x", "-f", "-F", "json", *ids], timeout=self.timeout)
        unknown = {seq(m.group(1)) for m in _UNKNOWN_ID.finditer(res.stderr or "")}
        if res.returncode != 0 and not unknown:
            self._raise(res, "cannot read job states")
        records = self._jobs_json(res)
        by_id = {k: v for k, v in records.items() if isinstance(v, dict)}
        by_seq = {seq(k): v for k, v in by_id.items()}
        out: dict[str, JobStatus] = {}
        for jid in ids:
            rec = by_id.get(jid) or by_seq.get(seq(jid))
            if rec is not None:
                out[jid] = make_status(jid, rec)
            elif seq(jid) in unknown:
                out[jid] = JobStatus(jid, S.UNKNOWN, reason=(
                    "job no longer known to PBS (history expired after job_history_duration)"))
            else:
                out[jid] = JobStatus(jid, S.UNKNOWN, reason="qstat reported nothing for this job")
        return out

    # ------------------------------------------------------------------ cancel
    def cancel(self, jobs: list[JobRef]) -> None:
        ids = list(dict.fromkeys(j.job_id for j in jobs))
        if not ids:
            return
        res = self.run(["qdel", *ids], timeout=self.timeout)
        if res.returncode == 0:
            return
        text = P.output_of(res)
        benign = ("Job has finished", "Unknown Job Id", "Request invalid for state of job",
                  "job is being deleted")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if lines and not P.matches_any(text, UNREACHABLE) \
                and all(P.matches_any(ln, benign) for ln in lines):
            return
        self._raise(res, "qdel failed")

    # ------------------------------------------------------------------ find
    def find(self, workspaces: list[str]) -> list[FoundJob]:
        wanted = {os.path.normpath(w) for w in workspaces}
        if not wanted:
            return []
        res = self.run(["qstat", "-x", "-f", "-F", "json"], timeout=self.timeout)
        if res.returncode != 0:
            self._raise(res, "cannot list jobs")
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

    # ------------------------------------------------------------------ ping
    def check_available(self) -> None:
        res = self.run(["qstat", "-B"], timeout=min(self.timeout, 15.0))
        if res.returncode != 0:
            raise P.unavailable("PBS server is not responding (qstat -B)", res)
