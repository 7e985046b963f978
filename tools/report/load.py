"""Reading a study for mreport: no lock (the state file is always whole), nothing written."""

import glob
import hashlib
import mmap
import os

from mshared.contracts import DAG_SCHEMA, DAG_VERSION, check_envelope
from mshared.errors import InvalidInput
from mshared.jsonio import loads
from mshared.statefile import read_state

from .core import Study

TAIL_BLOCK = 64 * 1024


def read_study(path: str, with_dag: bool) -> Study:
    """The study at ``path``: its state, and its DAG when ``with_dag``.

    The DAG is checked against the sha256 the state file recorded when mrender wrote both, so
    the full DAG validation (a third of the time at 100,000 steps) is not repeated here.
    """
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        raise InvalidInput(f"{root}: not a directory; give a study directory made by mrender")
    state = read_state(root)
    study = Study(root, state)
    if with_dag:
        study.dag = _read_dag(root, state)
    return study


def _read_dag(root: str, state: dict) -> dict:
    path = os.path.join(root, "dag.json")
    try:
        with open(path, "rb") as handle:   # mapped, not read: no 40 MB copy at 100,000 steps
            data = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
    except ValueError:
        data = b""                          # an empty file cannot be mapped
    except FileNotFoundError:
        raise InvalidInput(f"{path}: missing; is this a study directory made by mrender?") from None
    except OSError as err:
        raise InvalidInput(f"{path}: cannot read: {err.strerror}") from None
    expected = state["study"].get("dag_sha256")
    matched = bool(expected) and hashlib.sha256(data).hexdigest() == expected
    if expected and not matched:
        raise InvalidInput(f"{path}: does not match state.json (dag_sha256 differs); the study's "
                           "files were changed by hand: restore them or render the study again")
    try:
        dag = loads(data)
    except ValueError:
        raise InvalidInput(f"{path}: not valid JSON; restore it or render the study again") from None
    check_envelope(dag, DAG_SCHEMA, DAG_VERSION, path)
    steps = dag.get("steps")
    # the DAG mrender wrote with this state has the same steps; others are checked one by one
    if not isinstance(steps, list) or len(steps) != len(state["steps"]) or not matched and not all(
            isinstance(s, dict) and s.get("id") in state["steps"] for s in steps):
        raise InvalidInput(f"{root}: state.json and dag.json do not describe the same steps; "
                           "restore the study's files")
    return dag


def stderr_tails(study: Study, ids, lines: int) -> dict[str, dict]:
    """For each step id: {"path": stderr file relative to the root or None, "lines": its last
    ``lines`` lines}.  Local and SLURM/LSF/Flux jobs write <stem>.<job_id>.err; Maestro's own
    SLURM scripts wrote <stem>.err; otherwise the newest <stem>.*.err in the workspace."""
    index = {s["id"]: s for s in study.dag["steps"]}
    out = {}
    for sid in ids:
        step, entry = index[sid], study.state["steps"][sid]
        workspace = os.path.join(study.root, step["workspace"])
        path = _find_err(workspace, step["stem"], entry.get("job_id"))
        out[sid] = {"path": os.path.relpath(path, study.root) if path else None,
                    "lines": tail(path, lines) if path and lines > 0 else []}
    return out


def _find_err(workspace: str, stem: str, job_id) -> str | None:
    if job_id:
        exact = os.path.join(workspace, f"{stem}.{job_id}.err")
        if os.path.isfile(exact):
            return exact
    base = os.path.join(glob.escape(workspace), glob.escape(stem))
    found = [p for p in glob.glob(base + ".*.err") + glob.glob(base + ".err") if os.path.isfile(p)]
    return max(found, key=lambda p: (os.path.getmtime(p), p)) if found else None


def tail(path: str, count: int) -> list[str]:
    """The last ``count`` lines of a file, reading only its end (stderr files can be huge)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            block = min(size, TAIL_BLOCK)
            while True:
                handle.seek(size - block)
                data = handle.read(block)
                if data.count(b"\n") > count or block == size:
                    break
                block = min(size, block * 4)
    except OSError as err:
        return [f"(cannot read {os.path.basename(path)}: {err.strerror})"]
    text = data.decode("utf-8", errors="replace")
    found = text.splitlines()
    if block < size and found:
        found = found[1:]          # the first line was cut by the seek
    return found[-count:]
