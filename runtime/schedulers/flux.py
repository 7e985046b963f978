"""Flux adapter, through the ``flux`` command line (flux-core >= 0.49; Maestro 1.2.1 used the
Python bindings instead, which cannot be installed without a Flux build).

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
from . import _parse as P
from .base import Adapter, FoundJob, JobRef, JobStatus, SubmitRefused

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
FORMAT = ("{id.f58}|{state}|{result}|{returncode}|{t_run}|{t_inactive}|"
          "{exception.type}|{exception.note}")
_DIRECTIVE = re.compile(r"^\W*flux:(.*)$", re.IGNORECASE)
_NESTED_FALSE = re.compile(r"^#\s*MAESTRO-INFO\s*\(nested\)\s*(false|no|0|off)\s*$", re.IGNORECASE)
_JOBID = re.compile(r"^(?:[fƒ][1-9A-HJ-NP-Za-km-z]+|\d+|0x[0-9a-fA-F]+)$")
_UNKNOWN_ID = re.compile(r"JobID (\S+) unknown")
_RESOURCE_OPTS = ("-n", "-N", "--nslots", "--nodes", "--ntasks")


def flux_env() -> dict[str, str]:
    return P.env_with(FLUX_F58_FORCE_ASCII="1")


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
    key = "flux"
    script_suffix = ".flux.sh"

    def _run(self, argv, **kw):
        return self.run(argv, timeout=self.timeout, env=flux_env(), **kw)

    def _raise_if_down(self, res, what):
        if P.matches_any(P.output_of(res), UNREACHABLE):
            raise P.unavailable("Flux is not reachable", res)
        raise P.unavailable(what, res)

    # ------------------------------------------------------------------ submit
    def submit(self, script: str, workspace: str, stem: str) -> str:
        text = P.read_script(script, workspace)
        opts, nested = read_directives(text)
        if nested:
            argv = ["flux", "batch", f"--cwd={workspace}"]
            if not _has_resources(opts):
                argv += ["-n", "1"]
            argv.append(script)
        else:
            argv = ["flux", "submit", f"--cwd={workspace}", *opts, script]
        res = self._run(argv, cwd=workspace)
        if res.returncode != 0:
            if P.matches_any(P.output_of(res), UNREACHABLE):
                raise P.unavailable("Flux is not reachable", res)
            raise SubmitRefused(P.clip(res.stderr or res.stdout) or f"flux exited {res.returncode}")
        lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
        if not lines or not _JOBID.match(lines[-1]):
            raise P.unavailable(f"'flux {argv[1]}' answered without a job id", res, uncertain=True)
        return lines[-1]

    # ------------------------------------------------------------------ status
    def status(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        ids = list(dict.fromkeys(j.job_id for j in jobs))
        if not ids:
            return {}
        res = self._run(["flux", "jobs", "-n", "--color=never", "-o", FORMAT, *ids])
        by_key = {id_key(j): j for j in ids}
        out: dict[str, JobStatus] = {}
        unknown = {id_key(m.group(1)) for m in _UNKNOWN_ID.finditer(res.stderr or "")}
        for line in res.stdout.splitlines():
            parts = line.split("|", 7)
            if len(parts) < 8:
                continue
            jid = by_key.get(id_key(parts[0]))
            if jid is not None:
                out[jid] = make_status(jid, *parts[1:])
        if not out and not unknown:
            if res.returncode != 0 or P.matches_any(P.output_of(res), UNREACHABLE):
                self._raise_if_down(res, "cannot read job states")
            raise P.unavailable("unexpected answer from 'flux jobs'", res)
        for jid in ids:
            if jid not in out:
                out[jid] = JobStatus(jid, S.UNKNOWN, reason=(
                    "job no longer known to Flux (purged from the job list)"
                    if id_key(jid) in unknown else "flux jobs printed no line for this job"))
        return out

    # ------------------------------------------------------------------ cancel
    def cancel(self, jobs: list[JobRef]) -> None:
        ids = list(dict.fromkeys(j.job_id for j in jobs))
        if not ids:
            return
        res = self._run(["flux", "cancel", *ids])
        if res.returncode == 0:
            return
        text = P.output_of(res)
        lines = [ln for ln in text.splitlines() if ln.strip()]
        benign = ("job is inactive", "unknown job id", "No such file or directory")
        if lines and not P.matches_any(text, UNREACHABLE) \
                and all(P.matches_any(ln, benign) for ln in lines):
            return
        self._raise_if_down(res, "flux cancel failed")

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
        res = self._run(["flux", "jobs", "-a", "-n", "--color=never", "-o", "{id.f58}|{name}"])
        if res.returncode != 0:
            self._raise_if_down(res, "cannot list jobs")
        found = []
        for line in res.stdout.splitlines():
            jid, sep, name = line.strip().partition("|")
            if not sep or name not in names:
                continue
            info = self._run(["flux", "job", "info", jid, "jobspec"])
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

    # ------------------------------------------------------------------ ping
    def check_available(self) -> None:
        res = self.run(["flux", "uptime"], timeout=min(self.timeout, 15.0), env=flux_env())
        if res.returncode != 0:
            raise P.unavailable("Flux is not responding (flux uptime)", res)
