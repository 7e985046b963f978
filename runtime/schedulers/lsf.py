"""IBM Spectrum LSF adapter: bsub, bjobs -o, bkill, bparams.

Commands (IBM LSF 10.1 command reference, bsub(1), bjobs(1) "-o", bkill(1)):

* submit: ``bsub -cwd <workspace>`` with the script on standard input (what ``bsub < script``
  does: LSF reads the ``#BSUB`` lines from it), answer ``Job <123> is submitted to queue <normal>.``
* status: ONE ``bjobs -a -o "jobid stat exit_code exit_reason start_time finish_time
  delimiter='|'" -noheader id1 id2 ...``.  ``-a`` keeps finished jobs (for CLEAN_PERIOD, one hour
  by default); ids it does not know print ``Job <123> is not found`` and become UNKNOWN.  The LSF
  rows look like ``872793|DONE|-|-|...`` and ``861487|EXIT|12|TERM_RUNLIMIT: job killed after
  reaching LSF run time limit|...`` (format confirmed against enasequence/pipelite's
  LsfExecutorPollJobsTest, which replays real bjobs -o output).
* cancel: ONE ``bkill id1 id2 ...``.
* every call runs with ``LSB_NTRIES=1`` (otherwise LSF clients retry forever while mbatchd is down,
  "LSF is down. Please wait ...") and ``LSB_DISPLAY_YEAR=Y`` (times carry their year).
"""

from __future__ import annotations

import os
import re

from mshared import states as S
from . import _parse as P
from .base import Adapter, FoundJob, JobRef, JobStatus, SubmitRefused

UNREACHABLE = (
    "LSF is down",
    "not responding",
    "still trying",
    "Cannot connect to LSF",
    "Failed in an LSF library call",
    "LIM is down",
    "lsb_init",
    "Unable to contact",
    "Connection refused",
)

# bjobs STAT -> Maestro (Maestro 1.2.1 maps RUN, PEND, DONE, EXIT, WAIT/PROV; the rest are ours).
STATE_MAP = {
    "PEND": S.PENDING,
    "PSUSP": S.PENDING,      # suspended while pending
    "WAIT": S.WAITING,       # chunk job member waiting to run
    "PROV": S.WAITING,       # waiting for provisioning
    "RUN": S.RUNNING,
    "USUSP": S.RUNNING,      # suspended after dispatch: keeps its slot, will resume
    "SSUSP": S.RUNNING,
    "DONE": S.FINISHED,
    "EXIT": S.FAILED,        # refined by exit_reason below
    "UNKWN": S.UNKNOWN,      # mbatchd lost contact with the execution host
    "ZOMBI": S.HWFAILURE,    # execution host unreachable: resubmit
}
# EXIT reasons (bjobs exit_reason / bacct TERM_* codes) that are not plain failures.
EXIT_REASONS = (
    ("TERM_RUNLIMIT", S.TIMEDOUT),
    ("TERM_DEADLINE", S.TIMEDOUT),
    ("TERM_OWNER", S.CANCELLED),
    ("TERM_ADMIN", S.CANCELLED),
    ("TERM_FORCE_OWNER", S.CANCELLED),
    ("TERM_FORCE_ADMIN", S.CANCELLED),
    ("TERM_REQUEUE_OWNER", S.CANCELLED),
    ("TERM_REQUEUE_ADMIN", S.CANCELLED),
    ("TERM_PREEMPT", S.HWFAILURE),
    ("TERM_LOAD", S.HWFAILURE),
    ("TERM_HOST", S.HWFAILURE),
    ("TERM_ZOMBIE", S.HWFAILURE),
)
FIELDS = "jobid stat exit_code exit_reason start_time finish_time"
_JOB_REF = re.compile(r"Job <(\d+(?:\[\d+\])?)>")
_NOT_FOUND = re.compile(r"Job <(\d+(?:\[\d+\])?)> is not found")
_SUBMITTED = re.compile(r"Job <(\d+)> is submitted")


def lsf_env() -> dict[str, str]:
    return P.env_with(LSB_NTRIES="1", LSB_DISPLAY_YEAR="Y")


def _field(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "-") else value


def _cwd(value: str) -> str | None:
    """bjobs prints a directory under the home directory as ``$HOME/...``."""
    value = _field(value)
    if value is None:
        return None
    if value == "$HOME" or value.startswith("$HOME/"):
        value = os.path.expanduser("~") + value[len("$HOME"):]
    return os.path.normpath(value)


def make_status(job_id: str, stat: str, exit_code: str, exit_reason: str, start: str,
                finish: str) -> JobStatus:
    stat = stat.strip().upper()
    state = STATE_MAP.get(stat, S.UNKNOWN)
    reason = _field(exit_reason)
    if state == S.FAILED and reason:
        for term, mapped in EXIT_REASONS:
            if reason.upper().startswith(term):
                state = mapped
                break
    code = P.to_int(_field(exit_code) or "")
    if state == S.FINISHED and code is None:
        code = 0                                  # bjobs shows "-" for DONE
    if state == S.UNKNOWN and stat != "UNKWN":
        reason = f"unrecognised LSF state {stat!r}" + (f"; {reason}" if reason else "")
    elif stat == "UNKWN":
        reason = "LSF lost contact with the execution host (UNKWN)"
    elif stat in ("PSUSP", "USUSP", "SSUSP") and not reason:
        reason = f"suspended ({stat})"
    done = state in S.TERMINAL or state == S.HWFAILURE
    return JobStatus(
        job_id=job_id, state=state,
        exit_code=code if done else None,
        reason=reason,
        started=P.lsf_time(_field(start)) if state not in (S.PENDING, S.WAITING) else None,
        ended=P.lsf_time(_field(finish)) if done else None,
    )


class LsfAdapter(Adapter):
    key = "lsf"
    script_suffix = ".lsf.sh"

    def _run(self, argv, **kw):
        return self.run(argv, timeout=self.timeout, env=lsf_env(), **kw)

    # ------------------------------------------------------------------ submit
    def submit(self, script: str, workspace: str, stem: str) -> str:
        text = P.read_script(script, workspace)
        res = self._run(["bsub", "-cwd", workspace], input_text=text, cwd=workspace)
        out = P.output_of(res)
        m = _SUBMITTED.search(res.stdout or "")
        if res.returncode == 0 and m:
            return m.group(1)
        if P.matches_any(out, UNREACHABLE):
            raise P.unavailable("LSF batch system is not reachable", res)
        if res.returncode != 0:
            raise SubmitRefused(P.clip(out) or f"bsub exited {res.returncode}")
        raise P.unavailable("bsub answered without a job id", res, uncertain=True)

    # ------------------------------------------------------------------ status
    def status(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        ids = list(dict.fromkeys(j.job_id for j in jobs))
        if not ids:
            return {}
        res = self._run(["bjobs", "-a", "-o", f"{FIELDS} delimiter='|'", "-noheader", *ids])
        out: dict[str, JobStatus] = {}
        unknown: set[str] = set()
        wanted = set(ids)
        bad_lines = []
        for line in P.output_of(res).splitlines():
            if not line.strip():
                continue
            nf = _NOT_FOUND.search(line)
            if nf:
                unknown.add(nf.group(1))
                continue
            parts = line.split("|")
            if len(parts) >= 6 and parts[0].strip() in wanted:
                jid = parts[0].strip()
                # exit_reason may itself contain '|': the last two fields are the times
                reason = "|".join(parts[3:-2])
                out[jid] = make_status(jid, parts[1], parts[2], reason, parts[-2], parts[-1])
            else:
                bad_lines.append(line)
        if not out and not (unknown & wanted):   # "Job <0> is not found" is not about our jobs
            text = P.output_of(res)
            if P.matches_any(text, UNREACHABLE):
                raise P.unavailable("LSF batch system is not reachable", res)
            raise P.unavailable("unexpected answer from bjobs", res)
        for jid in ids:
            if jid not in out:
                why = ("job no longer known to LSF (cleaned after CLEAN_PERIOD)" if jid in unknown
                       else "bjobs printed no line for this job"
                       + (f" (unparsed output: {P.clip(bad_lines[0], 120)})" if bad_lines else ""))
                out[jid] = JobStatus(jid, S.UNKNOWN, reason=why)
        return out

    # ------------------------------------------------------------------ cancel
    def cancel(self, jobs: list[JobRef]) -> None:
        ids = list(dict.fromkeys(j.job_id for j in jobs))
        if not ids:
            return
        res = self._run(["bkill", *ids])
        if res.returncode == 0:
            return
        text = P.output_of(res)
        if P.matches_any(text, UNREACHABLE):
            raise P.unavailable("LSF batch system is not reachable", res)
        benign = ("Job has already finished", "No matching job found", "is being terminated",
                  "is being signaled")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if lines and all(P.matches_any(ln, benign) for ln in lines):
            return
        raise P.unavailable("bkill failed", res)

    # ------------------------------------------------------------------ find
    def find(self, workspaces: list[str]) -> list[FoundJob]:
        wanted = {os.path.normpath(w) for w in workspaces}
        if not wanted:
            return []
        res = self._run(["bjobs", "-a", "-u", P.current_user(), "-o",
                         "jobid sub_cwd exec_cwd job_name delimiter='|'", "-noheader"])
        text = P.output_of(res)
        found = []
        for line in res.stdout.splitlines():
            parts = line.split("|")
            if len(parts) < 4 or not parts[0].strip().isdigit():
                continue
            name = "|".join(parts[3:]).strip()
            for cwd in (_cwd(parts[1]), _cwd(parts[2])):
                if cwd and cwd in wanted:
                    found.append(FoundJob(parts[0].strip(), cwd, name))
                    break
        if not found and res.returncode != 0 and "No job found" not in text \
                and "No unfinished job found" not in text:
            if P.matches_any(text, UNREACHABLE):
                raise P.unavailable("LSF batch system is not reachable", res)
            raise P.unavailable("cannot list jobs", res)
        return found

    # ------------------------------------------------------------------ ping
    def check_available(self) -> None:
        res = self.run(["bparams"], timeout=min(self.timeout, 15.0), env=lsf_env())
        if res.returncode != 0:
            raise P.unavailable("LSF batch system is not responding (bparams)", res)
