"""Scripted stand-ins for scheduler clients that cannot be installed here (LSF, Flux, PBS).

Each executable in tests/standins/<scheduler>/ (bsub, bjobs, bkill; flux; qsub, qstat,
qdel) calls ``main(<command>)``.  They replay the output formats of the real clients (the source
of each transcript is noted beside it) from a small JSON "scheduler state":

  $STANDIN_DIR/state.json   {"next": N, "queues": [...], "jobs": {id: {...}}}
  $STANDIN_DIR/calls.log    one JSON line per invocation: {"cmd": ..., "argv": [...]}

Submitting appends a job (pending); a test moves it on with ``update_job`` (state, exit code...).
Nothing runs the scripts.

Failure injection: ``STANDIN_FAIL=<mode>`` for every command, or ``STANDIN_FAIL_<CMD>=<mode>`` for
one (``STANDIN_FAIL_BSUB``, ``STANDIN_FAIL_QSTAT``, ``STANDIN_FAIL_FLUX_JOBS`` ...):
  refuse   the scheduler's own refusal text, non-zero exit
  down     the scheduler's "cannot reach the server" text, non-zero exit
  garbage  exit 0 with output no client would print
  hang     sleep ``STANDIN_HANG_SECONDS`` (default 60) before doing anything
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import sys
import time
from contextlib import contextmanager
from string import Formatter
from types import SimpleNamespace

HOST = "standin"


# =========================================================================== state
def _dir() -> str:
    d = os.environ.get("STANDIN_DIR")
    if not d:
        sys.stderr.write("standin: STANDIN_DIR is not set\n")
        sys.exit(99)
    os.makedirs(d, exist_ok=True)
    return d


@contextmanager
def locked_state(directory: str | None = None):
    directory = directory or _dir()
    path = os.path.join(directory, "state.json")
    with open(os.path.join(directory, "state.lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as fh:
                state = json.load(fh)
        except FileNotFoundError:
            state = {}
        state.setdefault("next", 1)
        state.setdefault("jobs", {})
        yield state
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)


def _log_call(cmd: str, argv: list[str]) -> None:
    with open(os.path.join(_dir(), "calls.log"), "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"cmd": cmd, "argv": argv, "t": time.time()}) + "\n")


# ----------------------------------------------------------------- helpers for tests
def init(directory, queues=None) -> None:
    with locked_state(str(directory)) as st:
        st["jobs"] = {}
        st["next"] = 1
        if queues is not None:
            st["queues"] = list(queues)


def jobs(directory) -> dict:
    with locked_state(str(directory)) as st:
        return json.loads(json.dumps(st["jobs"]))


def update_job(directory, job_id: str, **fields) -> None:
    with locked_state(str(directory)) as st:
        key = _find_key(st, job_id)
        if key is None:
            raise KeyError(job_id)
        st["jobs"][key].update(fields)


def add_job(directory, job_id: str, **fields) -> None:
    with locked_state(str(directory)) as st:
        st["jobs"][job_id] = dict(fields)


def forget_job(directory, job_id: str) -> None:
    with locked_state(str(directory)) as st:
        st["jobs"].pop(_find_key(st, job_id), None)


def calls(directory, cmd: str | None = None) -> list[dict]:
    path = os.path.join(str(directory), "calls.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [r for r in rows if cmd is None or r["cmd"] == cmd]


def _find_key(st, job_id):
    if job_id in st["jobs"]:
        return job_id
    for key, job in st["jobs"].items():
        if job_id in (job.get("f58"), job.get("f58_ascii"), job.get("full_id")) \
                or job_id.split(".", 1)[0] == key:
            return key
    return None


# =========================================================================== failure modes
def _fail_mode(cmd: str) -> str | None:
    return os.environ.get("STANDIN_FAIL_" + cmd.upper().replace("-", "_")) \
        or os.environ.get("STANDIN_FAIL") or None


def _out(text: str = "", err: str = "", rc: int = 0):
    if text:
        sys.stdout.buffer.write(text.encode("utf-8"))
    if err:
        sys.stderr.buffer.write(err.encode("utf-8"))
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(rc)


def _maybe_fail(cmd: str, refuse: tuple, down: tuple):
    mode = _fail_mode(cmd)
    if mode is None:
        return
    if mode == "hang":
        time.sleep(float(os.environ.get("STANDIN_HANG_SECONDS", "60")))
        return
    if mode == "refuse":
        _out(err=refuse[0], rc=refuse[1])
    if mode == "down":
        _out(err=down[0], rc=down[1])
    if mode == "garbage":
        _out(text="\x1b[31m*** %%% 0xDEADBEEF ~~~ not what you expected\n<<<EOF>>>\n", rc=0)


# =========================================================================== LSF
# Sources: IBM Spectrum LSF 10.1 command reference (bsub(1), bjobs(1) -o/-noheader,
# LSB_BJOBS_CONSISTENT_EXIT_CODE, bkill(1)); rows like "872793|DONE|-|..." and
# "Job <6065212> is not found" as replayed in enasequence/pipelite LsfExecutorPollJobsTest.
LSF_DOWN = ("LSF is down. Please wait ...\nbatch system daemon not responding ... still trying\n", 255)
LSF_REFUSE = ("Request aborted by esub. Job not submitted.\n", 255)


def _lsf_time(epoch, with_year: bool) -> str:
    if not epoch:
        return "-"
    fmt = "%b %d %H:%M:%S %Y" if with_year else "%b %d %H:%M"
    return time.strftime(fmt, time.localtime(epoch))


def _bsub(argv):
    _maybe_fail("bsub", LSF_REFUSE, LSF_DOWN)
    script = sys.stdin.read()
    opts = {"-q": None, "-J": None, "-cwd": None}
    for line in script.splitlines():                     # "#BSUB -q normal"
        if line.startswith("#BSUB"):
            parts = line[5:].split(None, 1)
            if len(parts) == 2 and parts[0] in opts:
                opts[parts[0]] = parts[1].strip().strip('"')
    i = 0
    while i < len(argv):                                 # command line wins over #BSUB
        if argv[i] in opts and i + 1 < len(argv):
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            i += 1
    with locked_state() as st:
        queues = st.get("queues", ["normal"])
        queue = opts["-q"] or queues[0]
        if queue not in queues:
            _out(err=f"{queue}: No such queue. Job not submitted.\n", rc=255)
        jid = str(st["next"])
        st["next"] += 1
        st["jobs"][jid] = {
            "stat": "PEND", "queue": queue, "job_name": opts["-J"] or "NONAME",
            "exec_cwd": opts["-cwd"] or os.getcwd(), "sub_cwd": os.getcwd(),
            "user": getpass.getuser(), "exit_code": None, "exit_reason": None,
            "start_time": None, "finish_time": None, "submit_time": time.time(),
            "script": script,
        }
    _out(f"Job <{jid}> is submitted to queue <{queue}>.\n")


def _parse_bjobs_format(fmt: str):
    delim = " "
    fields = []
    for tok in fmt.split():
        if tok.startswith("delimiter="):
            delim = tok.split("=", 1)[1].strip("'\"")
        else:
            fields.append(tok.split(":", 1)[0])
    return fields, delim


def _bjobs(argv):
    _maybe_fail("bjobs", ("Job <0> is not found\n", 255), LSF_DOWN)
    fields, delim, header, ids, user = ["jobid", "user", "stat", "queue"], " ", True, [], None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-o":
            fields, delim = _parse_bjobs_format(argv[i + 1])
            i += 2
            continue
        if a == "-u":
            user = argv[i + 1]
            i += 2
            continue
        if a == "-noheader":
            header = False
        elif not a.startswith("-"):
            ids.append(a)
        i += 1
    with_year = os.environ.get("LSB_DISPLAY_YEAR", "").upper() == "Y"
    st_jobs = jobs(_dir())
    lines, errs = [], []
    selected = []
    if ids:
        for jid in ids:
            if jid in st_jobs:
                selected.append(jid)
            else:
                errs.append(f"Job <{jid}> is not found\n")
    else:
        selected = [j for j, v in sorted(st_jobs.items(), key=lambda kv: int(kv[0]))
                    if user in (None, "all") or v.get("user") == user]
    for jid in selected:
        job = st_jobs[jid]
        row = []
        for f in fields:
            if f == "jobid":
                row.append(jid)
            elif f in ("start_time", "finish_time", "submit_time"):
                row.append(_lsf_time(job.get(f), with_year))
            else:
                v = job.get(f)
                row.append("-" if v in (None, "") else str(v))
        lines.append(delim.join(row))
    if header and lines:
        lines.insert(0, delim.join(f.upper() for f in fields))
    if not ids and not selected:
        _out(err="No job found\n", rc=255)
    # LSB_BJOBS_CONSISTENT_EXIT_CODE=N (default): 255 only when no given job id is valid
    rc = 255 if ids and not selected else 0
    _out("".join(ln + "\n" for ln in lines), "".join(errs), rc)


def _bkill(argv):
    _maybe_fail("bkill", ("Job <0>: Permission denied\n", 255), LSF_DOWN)
    ids = [a for a in argv if not a.startswith("-")]
    outs, errs = [], []
    with locked_state() as st:
        for jid in ids:
            job = st["jobs"].get(jid)
            if job is None:
                errs.append(f"Job <{jid}>: No matching job found\n")
            elif job["stat"] in ("DONE", "EXIT"):
                errs.append(f"Job <{jid}>: Job has already finished\n")
            else:
                job.update(stat="EXIT", exit_code=130, exit_reason="TERM_OWNER: job killed by owner",
                           finish_time=time.time())
                outs.append(f"Job <{jid}> is being terminated\n")
    _out("".join(outs), "".join(errs), 255 if errs else 0)


# =========================================================================== Flux
# Sources: flux-core doc/man1/flux-jobs.rst (OUTPUT FORMAT, field names), flux-batch.rst
# (directives, "Options given on the command line override those in the submission script"),
# src/cmd/flux-cancel.py ("flux-cancel: ERROR: <id>: <strerror>"), bindings flux/job/list.py
# ("JobID <id> unknown"), PR #4950 ("flux-jobs: ERROR: Unable to connect to Flux: broker socket
# /run/flux/local was not found"), PR #4627 ("'batch' is not a valid queue").
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def f58(n: int, ascii_only: bool) -> str:
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return ("f" if ascii_only else "ƒ") + (s or "1")


def _flux_down(sub):
    return (f"flux-{sub}: ERROR: Unable to connect to Flux: broker socket /run/flux/local "
            f"was not found\n", 1)


def _flux_submit(sub, argv):
    _maybe_fail(f"flux-{sub}", (f"flux-{sub}: ERROR: 'pbatch' is not a valid queue\n", 1),
                _flux_down(sub))
    opts, positional = [], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and not positional:
            if "=" not in a and a in ("-n", "-N", "-t", "-q", "--queue", "--job-name", "-c",
                                      "--bank", "-B", "--output", "--error", "--cwd"):
                opts += [a, argv[i + 1]]
                i += 2
                continue
            opts.append(a)
        else:
            positional.append(a)
        i += 1
    if not positional:
        _out(err=f"flux-{sub}: ERROR: no script or command given\n", rc=1)
    script = positional[0]
    directives = []
    if sub == "batch":
        try:
            with open(script, encoding="utf-8") as fh:
                for line in fh:
                    s = line.lstrip("#").strip()
                    if s.lower().startswith("flux:"):
                        directives += s[5:].split()
        except OSError as err:
            _out(err=f"flux-batch: ERROR: {script}: {err.strerror}\n", rc=1)

    def opt(names, seq):
        val = None
        for j, o in enumerate(seq):
            for n in names:
                if o == n and j + 1 < len(seq):
                    val = seq[j + 1]
                elif o.startswith(n + "=") and n.startswith("--"):
                    val = o.split("=", 1)[1]
                elif len(n) == 2 and o.startswith(n) and len(o) > 2 and not o.startswith("--"):
                    val = o[2:]
        return val

    merged = directives + opts                       # command line overrides directives
    if sub == "batch" and opt(["-n", "-N", "--nslots", "--nodes"], merged) is None:
        _out(err="flux-batch: ERROR: Number of slots to allocate must be specified\n", rc=1)
    queue = opt(["-q", "--queue"], merged)
    name = opt(["--job-name"], merged) or os.path.basename(script)
    cwd = opt(["--cwd"], merged) or os.getcwd()
    with locked_state() as st:
        queues = st.get("queues", ["batch", "debug"])
        if queue is not None and queue not in queues:
            _out(err=f"flux-{sub}: ERROR: '{queue}' is not a valid queue\n", rc=1)
        n = st["next"]
        st["next"] += 1
        jid_int = (1 << 40) + n * 7919
        key = str(jid_int)
        st["jobs"][key] = {
            "f58": f58(jid_int, False), "f58_ascii": f58(jid_int, True), "mode": sub,
            "options": opts, "directives": directives, "name": name.strip('"'), "cwd": cwd,
            "queue": queue, "state": "SCHED", "result": "", "returncode": None, "t_submit": time.time(),
            "t_run": 0.0, "t_inactive": 0.0, "exception_type": "", "exception_note": "",
            "user": getpass.getuser(),
        }
    ascii_only = bool(os.environ.get("FLUX_F58_FORCE_ASCII"))
    _out(f58(jid_int, ascii_only) + "\n")


class _Id(str):
    pass


def _job_ns(key, job, ascii_only):
    jid = _Id(key)
    jid.f58 = job["f58_ascii"] if ascii_only else job["f58"]
    jid.dec = key
    jid.hex = hex(int(key))
    inactive = job["state"] == "INACTIVE"
    abbrev = {"COMPLETED": "CD", "FAILED": "F", "CANCELED": "CA", "TIMEOUT": "TO"}
    return SimpleNamespace(
        id=jid, state=job["state"], result=job["result"] if inactive else "",
        returncode="" if not inactive or job["returncode"] is None else job["returncode"],
        t_run=job["t_run"], t_inactive=job["t_inactive"], t_submit=job["t_submit"],
        name=job["name"], queue=job.get("queue") or "",
        exception=SimpleNamespace(occurred=bool(job["exception_type"]), type=job["exception_type"],
                                  note=job["exception_note"], severity=0 if job["exception_type"] else ""),
        status_abbrev=abbrev.get(job["result"], "?") if inactive else
        {"RUN": "R", "CLEANUP": "R"}.get(job["state"], "PD"),
        username=job["user"], userid=os.getuid(),
    )


def _resolve(st_jobs, given):
    for key, job in st_jobs.items():
        if given in (key, job["f58"], job["f58_ascii"]):
            return key
    return None


def _flux_jobs(argv):
    _maybe_fail("flux-jobs", ("flux-jobs: ERROR: Invalid filter specified: x\n", 1),
                _flux_down("jobs"))
    fmt, header, show_all, ids = "{id.f58:>12} {name:<10.10} {status_abbrev:>2.2}", True, False, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-o", "--format"):
            fmt = argv[i + 1]
            i += 2
            continue
        if a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        elif a in ("-n", "--no-header", "--suppress-header"):
            header = False
        elif a in ("-a", "-A"):
            show_all = True
        elif a.startswith("-"):
            pass                                           # --color=never etc.
        else:
            ids.append(a)
        i += 1
    ascii_only = bool(os.environ.get("FLUX_F58_FORCE_ASCII"))
    st_jobs = jobs(_dir())
    errs = []
    if ids:
        keys = []
        for given in ids:
            key = _resolve(st_jobs, given)
            if key is None:
                errs.append(f"JobID {given} unknown\n")
            else:
                keys.append(key)
    else:
        keys = [k for k, j in st_jobs.items() if show_all or j["state"] != "INACTIVE"]
    lines = []
    if header:
        names = [f[1].upper() for f in Formatter().parse(fmt) if f[1]]
        lines.append(" ".join(names))
    for key in keys:
        lines.append(fmt.format_map(vars(_job_ns(key, st_jobs[key], ascii_only))))
    _out("".join(ln + "\n" for ln in lines), "".join(errs), 0)


def _flux_cancel(argv):
    _maybe_fail("flux-cancel", ("flux-cancel: ERROR: Operation not permitted\n", 1),
                _flux_down("cancel"))
    ids = [a for a in argv if not a.startswith("-")]
    errs = []
    with locked_state() as st:
        for given in ids:
            key = _resolve(st["jobs"], given)
            if key is None:
                errs.append(f"flux-cancel: ERROR: {given}: unknown job id\n")
                continue
            job = st["jobs"][key]
            if job["state"] == "INACTIVE":
                errs.append(f"flux-cancel: ERROR: {given}: job is inactive\n")
                continue
            ran = job["state"] in ("RUN", "CLEANUP")
            job.update(state="INACTIVE", result="CANCELED", returncode=143 if ran else -128,
                       t_inactive=time.time(), exception_type="cancel", exception_note="")
    _out(err="".join(errs), rc=1 if errs else 0)


def _flux_job_info(argv):
    _maybe_fail("flux-job", ("flux-job: ERROR: Permission denied\n", 1), _flux_down("job"))
    if len(argv) < 3 or argv[0] != "info":
        _out(err="flux-job: ERROR: usage: flux job info ID KEY\n", rc=1)
    st_jobs = jobs(_dir())
    key = _resolve(st_jobs, argv[1])
    if key is None:
        _out(err=f"flux-job: ERROR: {argv[1]}: No such file or directory\n", rc=1)
    job = st_jobs[key]
    spec = {"version": 1, "attributes": {"system": {"cwd": job["cwd"],
                                                    "job": {"name": job["name"]}}}}
    _out(json.dumps(spec) + "\n")


def _flux(argv):
    if not argv:
        _out(err="usage: flux [OPTIONS] COMMAND ARGS\n", rc=1)
    sub, rest = argv[0], argv[1:]
    if sub in ("batch", "submit"):
        _flux_submit(sub, rest)
    elif sub == "jobs":
        _flux_jobs(rest)
    elif sub == "cancel":
        _flux_cancel(rest)
    elif sub == "job":
        _flux_job_info(rest)
    _out(err=f"flux: '{sub}' is not a flux command.  See 'flux --help'\n", rc=1)


# =========================================================================== PBS
# Sources: PBS Pro 19 `qstat -x -f -F json` transcript in buildtesters/buildtest
# docs/batch_support.rst; openpbs src/cmds/qstat.c ("qstat: cannot connect to server %s
# (errno=%d)", prt_job_err "qstat: Unknown Job Id <id>", exit status = pbs_errno & 0xff, 153 for
# PBSE_UNKJOBID 15001); CESNET/metacentrum-user-docs (Exit_status -29 for walltime).
SERVER = "pbssrv"
PBS_DOWN = (f"Connection refused\nqsub: cannot connect to server {SERVER} (errno=15010)\n", 1)


def _ctime(epoch):
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(epoch)) if epoch else None


def _qsub(argv):
    _maybe_fail("qsub", ("qsub: Unknown queue\n", 170), PBS_DOWN)
    opts = {"-q": None, "-N": None}
    walltime = None
    positional = []
    i = 0
    while i < len(argv):
        if argv[i] in opts and i + 1 < len(argv):
            opts[argv[i]] = argv[i + 1]
            i += 2
            continue
        positional.append(argv[i])
        i += 1
    if not positional:
        _out(err="usage: qsub [...] script\n", rc=2)
    script = positional[-1]
    try:
        with open(script, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        _out(err=f"qsub: script file:: No such file or directory\n", rc=2)
    for line in text.splitlines():
        if line.startswith("#PBS"):
            parts = line[4:].split()
            if len(parts) >= 2 and parts[0] in opts and opts[parts[0]] is None:
                opts[parts[0]] = parts[1]
            if len(parts) >= 2 and parts[0] == "-l" and parts[1].startswith("walltime="):
                walltime = parts[1].split("=", 1)[1]
    with locked_state() as st:
        queues = st.get("queues", ["workq"])
        queue = opts["-q"] or queues[0]
        if queue not in queues:
            _out(err="qsub: Unknown queue\n", rc=170)
        seq_no = str(st["next"])
        st["next"] += 1
        user = getpass.getuser()
        now = time.time()
        job = {
            "full_id": f"{seq_no}.{SERVER}", "Job_Name": opts["-N"] or os.path.basename(script)[:15],
            "Job_Owner": f"{user}@{HOST}", "job_state": "Q", "queue": queue, "server": SERVER,
            "substate": 10, "ctime": now, "qtime": now, "mtime": now,
            "Variable_List": {"PBS_O_HOME": os.path.expanduser("~"), "PBS_O_WORKDIR": os.getcwd(),
                              "PBS_O_QUEUE": queue, "PBS_O_HOST": HOST, "PBS_O_SYSTEM": "Linux"},
            "Resource_List": {"ncpus": 1, "nodect": 1, "select": "1:ncpus=1"},
            "Submit_arguments": " ".join(argv),
        }
        if walltime:
            job["Resource_List"]["walltime"] = walltime
        st["jobs"][seq_no] = job
    _out(f"{seq_no}.{SERVER}\n")


def _pbs_record(job):
    rec = {}
    for k, v in job.items():
        if k == "full_id":
            continue
        if k in ("ctime", "qtime", "mtime", "stime", "obittime", "etime"):
            v = _ctime(v)
            if v is None:
                continue
        rec[k] = v
    return rec


def _qstat(argv):
    _maybe_fail("qstat", ("qstat: Unauthorized Request \n", 159),
                (f"Connection refused\nqstat: cannot connect to server {SERVER} (errno=15010)\n", 1))
    history = "-x" in argv
    as_json = "-F" in argv and argv[argv.index("-F") + 1] == "json"
    ids = [a for i, a in enumerate(argv) if not a.startswith("-") and argv[i - 1] != "-F"]
    st_jobs = jobs(_dir())
    errs, out = [], {}
    rc = 0
    if ids:
        for given in ids:
            seq_no = given.split(".", 1)[0]
            job = st_jobs.get(seq_no)
            if job is None:
                errs.append(f"qstat: Unknown Job Id {given}\n")
                rc = 153
            elif job["job_state"] == "F" and not history:
                errs.append(f"qstat: {given} Job has finished, use -x or -H to obtain "
                            f"historical job information\n")
                rc = 35
            else:
                out[job["full_id"]] = _pbs_record(job)
    else:
        out = {j["full_id"]: _pbs_record(j) for j in st_jobs.values()
               if "full_id" in j and (history or j["job_state"] != "F")}
    if not as_json:
        lines = [f"{k:<16} {v['Job_Name']:<16} {v['Job_Owner'].split('@')[0]:<16} 00:00:00 "
                 f"{v['job_state']} {v['queue']}" for k, v in out.items()]
        _out("".join(ln + "\n" for ln in lines), "".join(errs), rc)
    doc = {"timestamp": int(time.time()), "pbs_version": "19.0.0", "pbs_server": SERVER}
    if out:
        doc["Jobs"] = out
    _out(json.dumps(doc, indent=4) + "\n", "".join(errs), rc)


def _qdel(argv):
    _maybe_fail("qdel", ("qdel: Unauthorized Request  1.pbssrv\n", 159),
                (f"Connection refused\nqdel: cannot connect to server {SERVER} (errno=15010)\n", 1))
    ids = [a for a in argv if not a.startswith("-")]
    errs, rc = [], 0
    with locked_state() as st:
        for given in ids:
            job = st["jobs"].get(given.split(".", 1)[0])
            if job is None:
                errs.append(f"qdel: Unknown Job Id {given}\n")
                rc = 153
            elif job["job_state"] == "F":
                errs.append(f"qdel: Job has finished {given}\n")
                rc = 35
            else:
                ran = job["job_state"] in ("R", "E", "S", "U")
                job.update(job_state="F", substate=91, mtime=time.time(), obittime=time.time())
                if ran:
                    job["Exit_status"] = 271
    _out(err="".join(errs), rc=rc)


# =========================================================================== entry point
COMMANDS = {
    "bsub": _bsub, "bjobs": _bjobs, "bkill": _bkill,
    "flux": _flux,
    "qsub": _qsub, "qstat": _qstat, "qdel": _qdel,
}


def main(cmd: str) -> None:
    argv = sys.argv[1:]
    _log_call(cmd if cmd != "flux" or not argv else f"flux-{argv[0]}", argv)
    COMMANDS[cmd](argv)
    sys.exit(0)
