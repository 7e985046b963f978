"""IBM Spectrum LSF: `#BSUB` scripts with a `jsrun` launcher, and the adapter (bsub, bjobs -o, bkill).

Scripts: the header is Maestro 1.2.1's lsfscriptadapter's.  Differences: a step without nodes
asks for the batch block's nodes (default 1) where Maestro writes an empty `-nnodes`; no walltime
means no `-W` line (Maestro writes an empty one); a walltime given as a number of minutes is
accepted (Maestro crashes on it); `batch.shell` is honoured (Maestro's LSF adapter always writes
/bin/bash); `[` and `]` in the job name (`-J`) become `_`, since LSF reads `-J name[1-1000]` as a
job array of 1000 jobs (Maestro writes the step name as it is).

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

import math
import os
import re

from mshared import states as S
from mshared.errors import InvalidInput
from ..scripts.headers import (allocation_owner, allocation_script, array_safe, header_value, job_name,
                               quote_argv, resources)
from . import _parse as P
from .base import Adapter, Answer, FoundJob, JobRef, JobStatus, Scheduler, read_script

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
    name = "LSF batch system"
    unreachable = UNREACHABLE
    benign_cancel = ("Job has already finished", "No matching job found", "is being terminated",
                     "is being signaled")
    forgotten = "job no longer known to LSF (cleaned after CLEAN_PERIOD)"
    unreported = "bjobs printed no line for this job"
    environment = {"LSB_NTRIES": "1", "LSB_DISPLAY_YEAR": "Y"}

    # ------------------------------------------------------------------ submit
    def submit_command(self, script: str, workspace: str) -> tuple[list[str], str]:
        return ["bsub", "-cwd", workspace], read_script(script)

    def job_id(self, stdout: str) -> str | None:
        m = _SUBMITTED.search(stdout or "")
        return m.group(1) if m else None

    # ------------------------------------------------------------------ status
    def query(self, jobs: list[JobRef]) -> Answer:
        ids = [job.job_id for job in jobs]
        res = self.call(["bjobs", "-a", "-o", f"{FIELDS} delimiter='|'", "-noheader", *ids])
        states: dict[str, JobStatus] = {}
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
                states[jid] = make_status(jid, parts[1], parts[2], reason, parts[-2], parts[-1])
            else:
                bad_lines.append(line)
        if not states and not (unknown & wanted):   # "Job <0> is not found" is not about our jobs
            raise self.failure(res, "unexpected answer from bjobs")
        note = f" (unparsed output: {P.clip(bad_lines[0], 120)})" if bad_lines else ""
        return Answer(states, unknown & wanted, note)

    # ------------------------------------------------------------------ cancel
    def cancel_command(self, ids: list[str]) -> list[str]:
        return ["bkill", *ids]

    # ------------------------------------------------------------------ find
    def find(self, workspaces: list[str]) -> list[FoundJob]:
        wanted = {os.path.normpath(w) for w in workspaces}
        if not wanted:
            return []
        res = self.call(["bjobs", "-a", "-u", P.current_user(), "-o",
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
            raise self.failure(res, "cannot list jobs")
        return found


# ---------------------------------------------------------------------- scripts
def walltime(value, step: dict) -> str:
    """LSF's -W is [HH:]MM; HH:MM:SS rounds up to the minute (01:30:45 -> 01:31), as Maestro."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value).strip()
    parts = text.split(":")
    if len(parts) == 3:
        try:
            hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
        except ValueError:
            raise InvalidInput(f"step '{step['id']}': walltime {value!r} is not HH:MM:SS") from None
        minutes += math.ceil(seconds / 60)
        return f"{hours + minutes // 60:02d}:{minutes % 60:02d}"
    return header_value(text, "walltime", step)


def header(step: dict, batch: dict, shell: str) -> str:
    res = resources(step)
    merged = {key: batch[key] for key in ("bank", "queue", "reservation") if batch.get(key)}
    merged.update({key: value for key, value in res.items() if value})
    nodes = res.get("nodes") or batch.get("nodes") or 1
    name = job_name(step)

    def value(key):
        return header_value(merged[key], f"'{key}'", step)

    lines = [f"#!{shell}", f"#BSUB -nnodes {header_value(nodes, 'nodes', step)}"]
    if merged.get("queue"):
        lines.append(f"#BSUB -q {value('queue')}")
    if merged.get("bank"):
        lines.append(f"#BSUB -G {value('bank')}")
    if merged.get("walltime"):
        lines.append(f"#BSUB -W {walltime(merged['walltime'], step)}")
    lines.append(f"#BSUB -J {array_safe(name)}")
    lines.append(f"#BSUB -o {name}.%J.out")     # the stem as it is: mreport looks for <stem>.*.err
    if merged.get("reservation"):
        lines.append(f"#BSUB -U {value('reservation')}")
    lines.append(f"#BSUB -e {name}.%J.err")
    return "\n".join(lines)


def parallelize(step: dict, batch: dict, procs: int, nodes: int | None) -> str:
    res = resources(step)
    args = ["jsrun", "--nrs", str(procs), "-b", header_value(res.get("bind") or "rs", "bind", step)]
    if res.get("gpus"):
        args += ["-g", str(res["gpus"])]
    if res.get("bind_gpus"):
        args += ["-B", header_value(res["bind_gpus"], "bind gpus", step)]
    args += ["-a", str(res.get("tasks_per_rs") or 1), "-r", str(res.get("rs_per_node") or 1),
             "-c", str(res.get("cpus_per_rs") or 1)]
    return " ".join(args)


# batch.bundle_launcher: how an allocation starts its workers (jsrun, the default, or blaunch)
BUNDLE_LAUNCHERS = ("jsrun", "blaunch")


def allocation(batch: dict, settings: dict, name: str, workdir: str, worker: list[str], shell: str) -> str:
    """A bundle's allocation: ``settings["nodes"]`` hosts for ``settings["walltime"]`` seconds
    (``-W`` in whole minutes, rounded up), one worker per host.

    ``batch.bundle_launcher`` picks the launcher.  ``jsrun`` (the default) is IBM Job Step
    Manager's, under LSF with IBM CSM, where the step scripts run (their ``-nnodes`` is a CSM
    option and their $(LAUNCHER) is jsrun, as in Maestro's LSF adapter): the header asks for
    ``-nnodes`` compute nodes, whole ones under CSM.  ``blaunch`` is LSF's own launcher for any
    other LSF cluster: the header asks for one slot on each of N hosts (``-n N -R
    "span[ptile=1]"``) and the hosts to itself (``-x``).
    """
    owner = allocation_owner(name)
    nodes = int(settings["nodes"])
    launcher = batch.get("bundle_launcher") or "jsrun"
    if launcher not in BUNDLE_LAUNCHERS:
        raise InvalidInput(f"batch.bundle_launcher {launcher!r}: an LSF bundle starts its workers with "
                           "jsrun (LSF with CSM, the default) or blaunch")

    def value(key):
        return header_value(batch[key], f"batch.{key}", owner)

    job = header_value(name, "the job name", owner)
    if launcher == "jsrun":
        lines = [f"#BSUB -nnodes {nodes}"]
    else:
        lines = [f"#BSUB -n {nodes}", '#BSUB -R "span[ptile=1]"', "#BSUB -x"]
        if settings.get("gpus"):
            lines.append(f'#BSUB -gpu "num={int(settings["gpus"])}"')
    if batch.get("queue"):
        lines.append(f"#BSUB -q {value('queue')}")
    if batch.get("bank"):
        lines.append(f"#BSUB -G {value('bank')}")
    minutes = -(-int(settings["walltime"]) // 60)
    lines.append(f"#BSUB -W {minutes // 60:02d}:{minutes % 60:02d}")
    lines.append(f"#BSUB -J {array_safe(job)}")
    lines.append(f"#BSUB -o {job}.%J.out")
    if batch.get("reservation"):
        lines.append(f"#BSUB -U {value('reservation')}")
    lines.append(f"#BSUB -e {job}.%J.err")
    if launcher == "jsrun":
        # IBM Spectrum LSF 10.1 Job Step Manager, jsrun: --nrs resource sets, --rs_per_host 1 puts
        # one on each compute node, --tasks_per_rs 1 starts one task in each; the worker's set
        # holds one core and no GPU (--cpu_per_rs 1 --gpu_per_rs 0) so the jsrun calls of its
        # steps find the rest of the node, and --bind none leaves it and its children unbound.
        # jsrun returns when the tasks of its job step have ended (OLCF's jsrun quick start guide
        # describes the same resource-set options).
        launch = f"jsrun --nrs {nodes} --rs_per_host 1 --tasks_per_rs 1 --cpu_per_rs 1 --gpu_per_rs 0 --bind none"
    else:
        # IBM Spectrum LSF 10.1 command reference, blaunch: given no host names it starts the
        # command once per job slot on every host of the allocation, so with one slot per host
        # (span[ptile=1]) once per host.  The tasks run through LSF's RES/sbatchd, so LSF tracks
        # (and kills) them with the job; blaunch returns when they have ended.
        launch = "blaunch"
    return allocation_script(owner, shell, lines, workdir, settings["walltime"],
                             [f"{launch} {quote_argv(worker)}"])


UNIT = Scheduler(key="lsf", extension="lsf.sh", adapter=LsfAdapter, header=header, parallelize=parallelize,
                 allocation=allocation)
