"""Reading a study for mreport: no lock (the state file is always whole), nothing written."""

import glob
import os

from mshared.statefile import read_state
from mshared.studydir import read_dag, study_root

from .core import StudyFiles

TAIL_BLOCK = 64 * 1024
RESULT_BYTES = 64 * 1024    # a result file is a small answer for a driver, not a data set


def read_study(path: str, with_dag: bool) -> StudyFiles:
    """The study at ``path``: its state, and its DAG when ``with_dag`` (mshared.studydir checks it
    against the state).  A study that grew between the two reads (mextend replaces dag.json and
    state.json together) is read again: the newer state names the newer DAG."""
    from mshared.errors import InvalidInput
    from mshared.statefile import head_checksum

    root = study_root(path)
    state = read_state(root)
    if not with_dag:
        return StudyFiles(root, state)
    try:
        return StudyFiles(root, state, read_dag(root, state))
    except InvalidInput:
        if head_checksum(root) == state.get("checksum", "").encode():
            raise
    state = read_state(root)
    return StudyFiles(root, state, read_dag(root, state))


def stderr_tails(study: StudyFiles, ids, lines: int) -> dict[str, dict]:
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


def read_results(study: StudyFiles, ids, name: str) -> dict[str, dict]:
    """For each step id: {"result": the content of ``<workspace>/<name>`` (its JSON value, or its
    text when it is not JSON; null when it cannot be shown), "result_error": null or why not}."""
    from mshared.jsonio import loads

    index = {s["id"]: s for s in study.dag["steps"]}
    out = {}
    for sid in ids:
        path = os.path.join(study.root, index[sid]["workspace"], name)
        value, error = None, None
        try:
            with open(path, "rb") as handle:
                data = handle.read(RESULT_BYTES + 1)
        except FileNotFoundError:
            error = "missing"
        except OSError as err:
            error = f"cannot read: {err.strerror}"
        else:
            if len(data) > RESULT_BYTES:
                error = f"larger than {RESULT_BYTES} bytes"
            else:
                try:
                    value = loads(data)
                except ValueError:
                    try:
                        value = data.decode("utf-8").rstrip("\n")
                    except UnicodeDecodeError:
                        error = "not JSON and not UTF-8 text"
        out[sid] = {"result": value, "result_error": error}
    return out
