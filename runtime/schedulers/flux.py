"""Flux: `#flux:` scripts with a `flux run` launcher, and the adapter, through the ``flux`` command
line (flux-core >= 0.49; Maestro 1.2.1 used the Python bindings instead, which cannot be installed
without a Flux build).

Scripts: the directives are Maestro 1.2.1's fluxscriptadapter's (adapter 0.49).  Left out on
purpose: Maestro's `#MAESTRO-INFO` version lines (they record the broker version, which mrender
does not ask a broker for; flux ignores them) and the blank `#` line after them.  One
`#MAESTRO-INFO (nested) False` line marks a step with `nested: false` for the adapter.  A walltime
of none / 'inf' gives no `-t` line (Maestro writes `-t 0s`).  Unscheduled steps get only the
shebang, as under the other schedulers (Maestro writes the flux header for them too).

* submit: ``flux batch --cwd=<workspace> <script>`` runs the script as the initial program of a
  new Flux sub-instance and reads its ``#flux:`` directives itself (flux-batch(1), "SUBMISSION
  DIRECTIVES") -- Maestro's default (``nested: true``).  A script whose header says
  ``#MAESTRO-INFO (nested) False`` is a non-nested step: it goes to ``flux submit --cwd=<ws>
  <directive options> <script>``, the directives being passed as options because flux submit does
  not read them.  A script without resource directives gets ``-n 1`` (older flux batch requires a
  slot count).  The answer is the job id in F58 (``ƒM5k8m7m``; we set FLUX_F58_FORCE_ASCII=1 so
  it is ``fM5k8m7m``).
* status: ONE ``flux jobs -n --color=never -o '{id.f58}|{state}|{result}|{returncode}|{t_run}|
  {t_inactive}|{exception.type}|{exception.note}' id1 id2 ...`` (flux-jobs(1) OUTPUT FORMAT; with
  job ids given, state filters are ignored and an unknown id prints ``JobID <id> unknown`` on
  stderr, flux-core src/bindings/python/flux/job/list.py).
* cancel: ONE ``flux cancel id1 id2 ...``.
* find: jobs are matched by name first (``flux jobs -a``; names from the ``--job-name`` directive
  of the scripts in the workspaces), then ``flux job info <id> jobspec`` confirms the working
  directory (``attributes.system.cwd``) of each candidate: flux jobs has no cwd field.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex

from mshared import states as S
from mshared.errors import InvalidInput
from ..scripts.headers import (allocation_owner, allocation_script, exclusive, header_value, job_name,
                               quote_argv, resources, walltime_seconds)
from . import _parse as P
from .base import Adapter, Answer, FoundJob, JobRef, JobStatus, Scheduler, read_script

UNREACHABLE = (
    "Unable to connect to Flux",          # flux-core PR #4950 wording
    "broker socket",
    "Connection refused",
    "No such file or directory: '/run/flux",
    "Upstream Flux broker is offline",
)
STATE_MAP = {
    "NEW": S.PENDING,
    "DEPEND": S.PENDING,
    "PRIORITY": S.PENDING,
    "SCHED": S.QUEUED,          # Maestro 1.2.1: S -> QUEUED
    "RUN": S.RUNNING,
    "CLEANUP": S.FINISHING,     # Maestro: C -> FINISHING
}
RESULT_MAP = {
    "COMPLETED": S.FINISHED,
    "FAILED": S.FAILED,
    "CANCELED": S.CANCELLED,
    "CANCELLED": S.CANCELLED,
    "TIMEOUT": S.TIMEDOUT,
}
JOBS_FORMAT = ("{id.f58}|{state}|{result}|{returncode}|{t_run}|{t_inactive}|"
          "{exception.type}|{exception.note}")
_DIRECTIVE = re.compile(r"^\W*flux:(.*)$", re.IGNORECASE)
_NESTED_FALSE = re.compile(r"^#\s*MAESTRO-INFO\s*\(nested\)\s*(false|no|0|off)\s*$", re.IGNORECASE)
_JOBID = re.compile(r"^(?:[fƒ][1-9A-HJ-NP-Za-km-z]+|\d+|0x[0-9a-fA-F]+)$")
_UNKNOWN_ID = re.compile(r"JobID (\S+) unknown")
_RESOURCE_OPTS = ("-n", "-N", "--nslots", "--nodes", "--ntasks")


def id_key(job_id: str) -> str:
    """Compare F58 ids whatever their prefix (``ƒ`` or ASCII ``f``)."""
    job_id = job_id.strip()
    return job_id[1:] if job_id[:1] in ("ƒ", "f") else job_id


def read_directives(text: str) -> tuple[list[str], bool]:
    """(options from ``#flux:`` lines, whether the script asks for a non-nested submit)."""
    opts: list[str] = []
    nested = True
    for line in text.splitlines():
        if _NESTED_FALSE.match(line.strip()):
            nested = False
            continue
        m = _DIRECTIVE.match(line)
        if m:
            try:
                opts.extend(shlex.split(m.group(1), comments=True))
            except ValueError:
                opts.extend(m.group(1).split())
    return opts, nested


def _has_resources(opts: list[str]) -> bool:
    return any(o == r or o.startswith(r + "=") or (len(r) == 2 and o.startswith(r) and len(o) > 2)
               for o in opts for r in _RESOURCE_OPTS)


def make_status(job_id: str, state: str, result: str, returncode: str, t_run: str,
                t_inactive: str, exc_type: str, exc_note: str) -> JobStatus:
    state = state.strip().upper()
    result = result.strip().upper()
    notes = [x.strip() for x in (exc_type, exc_note) if x and x.strip() and x.strip() != "None"]
    if state == "INACTIVE":
        mapped = RESULT_MAP.get(result, S.UNKNOWN)
        if mapped == S.FAILED and exc_type.strip() in ("node-fail", "lost-node"):
            mapped = S.HWFAILURE
    else:
        mapped = STATE_MAP.get(state, S.UNKNOWN)
    if mapped == S.UNKNOWN:
        notes.insert(0, f"unrecognised Flux state {state!r} result {result!r}")
    rc = P.to_int(returncode)
    exit_code = None
    if state == "INACTIVE" and rc is not None:
        if rc >= 0:
            exit_code = rc
        elif rc == -128:
            notes.append("cancelled before it started")
        else:
            notes.append(f"signal {-rc}")
    ran = P.epoch_to_iso(t_run)
    return JobStatus(job_id=job_id, state=mapped, exit_code=exit_code,
                     reason="; ".join(notes) or None, started=ran,
                     ended=P.epoch_to_iso(t_inactive) if state == "INACTIVE" else None)


class FluxAdapter(Adapter):
    name = "Flux"
    unreachable = UNREACHABLE
    benign_cancel = ("job is inactive", "unknown job id", "No such file or directory")
    forgotten = "job no longer known to Flux (purged from the job list)"
    unreported = "flux jobs printed no line for this job"
    environment = {"FLUX_F58_FORCE_ASCII": "1"}

    # ------------------------------------------------------------------ submit
    def submit_command(self, script: str, workspace: str) -> tuple[list[str], None]:
        opts, nested = read_directives(read_script(script))
        if not nested:
            return ["flux", "submit", f"--cwd={workspace}", *opts, script], None
        argv = ["flux", "batch", f"--cwd={workspace}"]
        if not _has_resources(opts):
            argv += ["-n", "1"]
        return [*argv, script], None

    def job_id(self, stdout: str) -> str | None:
        lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
        return lines[-1] if lines and _JOBID.match(lines[-1]) else None

    # ------------------------------------------------------------------ status
    def query(self, jobs: list[JobRef]) -> Answer:
        ids = [job.job_id for job in jobs]
        res = self.call(["flux", "jobs", "-n", "--color=never", "-o", JOBS_FORMAT, *ids])
        by_key = {id_key(j): j for j in ids}
        states: dict[str, JobStatus] = {}
        unknown = {by_key[k] for k in (id_key(m.group(1)) for m in _UNKNOWN_ID.finditer(res.stderr or ""))
                   if k in by_key}
        for line in res.stdout.splitlines():
            parts = line.split("|", 7)
            if len(parts) < 8:
                continue
            jid = by_key.get(id_key(parts[0]))
            if jid is not None:
                states[jid] = make_status(jid, *parts[1:])
        if not states and not unknown:
            raise self.failure(res, "cannot read job states" if res.returncode != 0
                               else "unexpected answer from 'flux jobs'")
        return Answer(states, unknown)

    # ------------------------------------------------------------------ cancel
    def cancel_command(self, ids: list[str]) -> list[str]:
        return ["flux", "cancel", *ids]

    # ------------------------------------------------------------------ find
    def find(self, workspaces: list[str]) -> list[FoundJob]:
        wanted = {os.path.normpath(w) for w in workspaces}
        names: set[str] = set()
        for ws in wanted:
            for path in glob.glob(os.path.join(glob.escape(ws), "*" + self.script_suffix)):
                try:
                    with open(path, encoding="utf-8") as fh:
                        opts, _ = read_directives(fh.read())
                except OSError:
                    continue
                for i, opt in enumerate(opts):
                    if opt.startswith("--job-name="):
                        names.add(opt.split("=", 1)[1])
                    elif opt == "--job-name" and i + 1 < len(opts):
                        names.add(opts[i + 1])
        if not names:
            return []
        res = self.call(["flux", "jobs", "-a", "-n", "--color=never", "-o", "{id.f58}|{name}"])
        if res.returncode != 0:
            raise self.failure(res, "cannot list jobs")
        found = []
        for line in res.stdout.splitlines():
            jid, sep, name = line.strip().partition("|")
            if not sep or name not in names:
                continue
            info = self.call(["flux", "job", "info", jid, "jobspec"])
            if info.returncode != 0:
                continue                       # purged in between, or not ours
            try:
                spec = json.loads(info.stdout)
                cwd = spec["attributes"]["system"]["cwd"]
            except (ValueError, KeyError, TypeError):
                continue
            if os.path.normpath(cwd) in wanted:
                found.append(FoundJob(jid, os.path.normpath(cwd), name))
        return found


# ---------------------------------------------------------------------- scripts
# allocation_args / launcher_args groups -> the flux option they become
_GROUPS = {"setopt": "setopt", "o": "setopt", "setattr": "setattr", "S": "setattr", "conf": "conf"}
_EXCLUSIVE_KEYS = ("x", "exclusive")


def _args(batch: dict, group: str) -> dict:
    value = batch.get(group) or {}
    if not isinstance(value, dict):
        raise InvalidInput(f"batch.{group} must be a mapping of option groups (setopt, setattr, conf)")
    return value


def batch_exclusive(batch: dict) -> dict:
    """The batch default: an 'x' or 'exclusive' key in allocation_args / launcher_args."""
    return {"allocation": any(k in _args(batch, "allocation_args") for k in _EXCLUSIVE_KEYS),
            "launcher": any(k in _args(batch, "launcher_args") for k in _EXCLUSIVE_KEYS)}


def render_args(groups: dict, allocation: bool) -> list[str]:
    """Option groups as flux options: {setopt: {a.b: 1}} -> --setopt=a.b=1; a null value is a flag.

    Allocation args keep only the groups flux batch understands (Maestro drops the rest with a
    warning); launcher args pass unknown groups through as options of their own name.
    """
    out = []
    for key, values in groups.items():
        if key in _EXCLUSIVE_KEYS:
            continue
        option = _GROUPS.get(key)
        if option is None:
            if allocation:
                continue
            option = str(key)
        prefix, sep = ("-", " ") if len(option) == 1 else ("--", "=")
        for path, value in _dotpaths(values):
            text = f"{prefix}{option}{sep}{path}" if path else f"{prefix}{option}"
            if value is not None and value != "":
                value = str(value).lower() if isinstance(value, bool) else value
                text += f"={value}" if path else f"{sep}{value}"
            out.append(text)
    return out


def _dotpaths(values, base: str = ""):
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _dotpaths(value, f"{base}.{key}" if base else str(key))
    else:
        yield base, values


def _seconds_text(seconds) -> str:
    return repr(seconds) if isinstance(seconds, float) else str(seconds)


def header(step: dict, batch: dict, shell: str) -> str:
    res = resources(step)
    excl = exclusive(res.get("exclusive"), batch_exclusive(batch))
    name = job_name(step)
    lines = [f"#!{shell}"]
    if res.get("nested") is False:
        # read by the flux adapter: a non-nested step goes to `flux submit`, not `flux batch`
        lines.append("#MAESTRO-INFO (nested) False")
    if res.get("nodes"):
        lines.append(f"#flux: -N {res['nodes']}")
    if res.get("procs") and not excl["allocation"]:
        lines.append(f"#flux: -n {res['procs']}")
    seconds = walltime_seconds(res.get("walltime"), step)
    if seconds:
        lines.append(f"#flux: -t {_seconds_text(seconds)}s")
    if batch.get("queue"):
        lines.append(f"#flux: -q {header_value(batch['queue'], 'batch.queue', step)}")
    if batch.get("bank"):
        lines.append(f"#flux: --bank={header_value(batch['bank'], 'batch.bank', step)}")
    lines.append(f'#flux: --job-name="{name}"')
    lines.append(f"#flux: --output={name}.{{{{id}}}}.out")
    lines.append(f"#flux: --error={name}.{{{{id}}}}.err")
    if excl["allocation"]:
        lines.append("#flux: --exclusive")
    for arg in render_args(_args(batch, "allocation_args"), allocation=True):
        lines.append(f"#flux: {header_value(arg, 'batch.allocation_args', step)}")
    return "\n".join(lines)


def parallelize(step: dict, batch: dict, procs: int, nodes: int | None) -> str:
    res = resources(step)
    excl = exclusive(res.get("exclusive"), batch_exclusive(batch))["launcher"]
    args = ["flux", "run"]
    if nodes:
        args += ["-N", str(nodes)]
    if procs:
        args += ["-n", str(procs)]
    if res.get("cores_per_task") and not excl:
        args += ["-c", str(res["cores_per_task"])]
    if res.get("gpus") and not excl:
        args += ["-g", str(res["gpus"])]
    if excl:
        args.append("--exclusive")
    launcher = dict(_args(batch, "launcher_args"))
    legacy = batch.get("args")   # deprecated in 1.2: merged into the -o (setopt) group
    if isinstance(legacy, dict) and legacy:
        launcher["o"] = {**(launcher.get("o") or {}), **legacy}
    args += [header_value(a, "batch.launcher_args", step) for a in render_args(launcher, allocation=False)]
    return " ".join(args)


def allocation(batch: dict, settings: dict, name: str, workdir: str, worker: list[str], shell: str) -> str:
    """A bundle's allocation: a ``flux batch`` instance of ``settings["nodes"]`` whole nodes
    (``--exclusive``; one slot per node, of ``cores`` cores and ``gpus`` GPUs when given) for
    ``settings["walltime"]`` seconds, plus batch.allocation_args as in the step headers.

    The worker line follows flux-core's job parameters (doc/man1/common/job-param-common.rst,
    job-param-pertask.rst): ``-N`` with ``-n`` spreads the tasks evenly over the nodes, so
    ``-N n -n n`` is one task per node, each holding one core (``-c`` defaults to 1).  ``-n`` is
    given on purpose: ``-N`` alone would make the job exclusive and take whole nodes, and the
    ``flux run`` of the steps the worker starts would find nothing free.  flux run waits for the
    job and exits with its exit status, the largest task exit status (submit-exit-status.rst).
    """
    owner = allocation_owner(name)
    nodes = int(settings["nodes"])
    job = header_value(name, "the job name", owner, quoted=True)
    lines = [f"#flux: -N {nodes}", f"#flux: -n {nodes}"]
    if settings.get("cores"):
        lines.append(f"#flux: -c {int(settings['cores'])}")
    if settings.get("gpus"):
        lines.append(f"#flux: -g {int(settings['gpus'])}")
    lines.append("#flux: --exclusive")
    lines.append(f"#flux: -t {int(settings['walltime'])}s")
    if batch.get("queue"):
        lines.append(f"#flux: -q {header_value(batch['queue'], 'batch.queue', owner)}")
    if batch.get("bank"):
        lines.append(f"#flux: --bank={header_value(batch['bank'], 'batch.bank', owner)}")
    lines.append(f'#flux: --job-name="{job}"')
    lines.append(f"#flux: --output={job}.{{{{id}}}}.out")
    lines.append(f"#flux: --error={job}.{{{{id}}}}.err")
    for arg in render_args(_args(batch, "allocation_args"), allocation=True):
        lines.append(f"#flux: {header_value(arg, 'batch.allocation_args', owner)}")
    launch = f"flux run -N {nodes} -n {nodes} {quote_argv(worker)}"
    return allocation_script(owner, shell, lines, workdir, settings["walltime"], [launch])


UNIT = Scheduler(key="flux", extension="flux.sh", adapter=FluxAdapter, header=header, parallelize=parallelize,
                 allocation=allocation)
