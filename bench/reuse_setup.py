"""Old studies for the reuse benchmarks (bench/workloads_reuse.py), built untimed, once per run.

A finished old study is made the way mrender makes it (its core: render, keys, the state written
under the lock as mrender's writer does), then every step is marked FINISHED as a run would leave
it: a job id, times, exit code 0 and, in each workspace, what a local job leaves behind
(`<stem>.<pid>.out`, `.err`, `.exit.json`) plus the step's own output file.  Running the 10,000
sims for real would take minutes (and, for the 1 s steps, hours) and give the same files.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

START, END = "2026-11-20T08:00:00Z", "2026-11-20T08:00:01Z"


def expand(mexpand: str, spec: Path, cwd: Path, out: Path) -> Path:
    """`mexpand SPEC > OUT`; returns OUT."""
    with open(out, "wb") as handle:
        subprocess.run([mexpand, str(spec)], stdout=handle, check=True, cwd=cwd)
    return out


def finished_study(dag_file: Path, root: Path, *, workspaces: bool) -> Path:
    """The study of ``dag_file`` at ``root``, every step FINISHED.  Without ``workspaces`` only
    dag.json, meta/keys.json and state.json are written (planning reads nothing else)."""
    from mrender import core as render_core
    from mrender.keys import KEYS_FILE, instance_keys, keys_document
    from mshared.contracts import parse_dag
    from mshared.jsonio import dumps
    from mshared.statefile import LOCK_FILE, lock_study, write_state

    dag = parse_dag(dag_file.read_bytes(), str(dag_file))
    now = datetime.now(timezone.utc)
    if workspaces:
        render_core.write_study(dag, str(root), {}, now=now)
        _finish(root, dag)
        return root
    plan = render_core.render(dag, root=str(root), settings={}, now=now)
    (root / "meta").mkdir(parents=True)
    files = dict(plan.files)
    (root / "dag.json").write_bytes(files["dag.json"])
    (root / LOCK_FILE).write_bytes(b"")
    sha = plan.state["study"]["dag_sha256"]
    (root / KEYS_FILE).write_bytes(dumps(keys_document(instance_keys(dag), sha)))
    for number, entry in enumerate(plan.state["steps"].values()):
        _done(entry, str(100000 + number))
    with lock_study(str(root)):
        write_state(str(root), plan.state)
    return root


def _done(entry: dict, job: str) -> None:
    entry.update(state="FINISHED", job_id=job, jobs=[job], attempts=1, exit_code=0,
                 submitted=START, started=START, ended=END)


def _finish(root: Path, dag: dict) -> None:
    """Every step FINISHED (through mshared.studydir.edit_state), with a local job's files."""
    from mshared.studydir import edit_state

    def change(state, _dag):
        for number, step in enumerate(dag["steps"]):
            job = str(100000 + number)
            _done(state["steps"][step["id"]], job)
            ws = root / step["workspace"]
            stem = step["stem"]
            for name, data in ((f"{stem}.{job}.out", b""), (f"{stem}.{job}.err", b""),
                               (f"{stem}.{job}.exit.json", b'{"exit_code":0,"pid":%s,"signal":null,"started":1795161600.0}\n' % job.encode()),
                               (_output(step), f"{step['id']}\n".encode())):
                fd = os.open(ws / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                os.write(fd, data)
                os.close(fd)

    edit_state(str(root), change)


def _output(step: dict) -> str:
    return {"prep": "prep.txt", "post": "count.txt"}.get(step["step"], "out.txt")
