"""Reading a study for mreport: no lock (the state file is always whole), nothing written."""

import glob
import os

from mshared import dagview
from mshared.conductor import conductor
from mshared.contracts import check_stem, check_workspace
from mshared.errors import InvalidInput
from mshared.printable import visible
from mshared.reading import open_regular
from mshared.statefile import head_checksum, read_state
from mshared.studydir import read_dag, study_root

from .core import StudyFiles

TAIL_BLOCK = 64 * 1024
TAIL_MAX_BYTES = 1024 * 1024    # --why reads at most this much of the end of a stderr file
LINE_MAX_CHARS = 1000           # a longer stderr line is shown cut in the middle
RESULT_BYTES = 64 * 1024    # a result file is a small answer for a driver, not a data set


def read_study(path: str, with_dag: bool, source: str = "dag") -> StudyFiles:
    """The study at ``path``: its state, and its DAG when ``with_dag`` (mshared.studydir checks it
    against the state).  ``source`` (core.DAG_SOURCES) says how much of the DAG the report shows:
    "report" and "pass" take that view of dag.json (mshared.dagview: the report view holds each
    step's id, name, workspace, parameters and round; the pass view ids, names, workspaces,
    stems, parents and the Params cell) while it was made from this dag.json, else dag.json.
    A study that grew between the two reads (mextend replaces dag.json and state.json together)
    is read again: the newer state names the newer DAG."""
    root = study_root(path)
    state = read_state(root)
    why_not = conductor(root).why_not
    if not with_dag:
        return StudyFiles(root, state, None, why_not)
    try:
        return StudyFiles(root, state, _dag(root, state, source), why_not)
    except InvalidInput:
        if head_checksum(root) == state.get("checksum", "").encode():
            raise
    state = read_state(root)      # it grew between the two reads (mextend): read both again
    return StudyFiles(root, state, _dag(root, state, source), why_not)


_VIEWS = {"report": "load_report", "pass": "load"}     # source -> its reader in mshared.dagview


def _dag(root: str, state: dict, source: str) -> dict:
    view = None
    if source in _VIEWS:
        try:
            info = os.stat(os.path.join(root, "dag.json"))
            view = getattr(dagview, _VIEWS[source])(root, state["study"].get("dag_sha256"), info)
        except OSError:
            pass              # no dag.json: read_dag says so
    return view if view is not None else read_dag(root, state)


def stderr_tails(study: StudyFiles, ids, lines: int) -> dict[str, dict]:
    """For each step id: {"path": stderr file relative to the root or None, "lines": its last
    ``lines`` lines}.  Local and SLURM/LSF/Flux jobs write <stem>.<job_id>.err; Maestro's own
    SLURM scripts wrote <stem>.err; otherwise the newest <stem>.*.err in the workspace.

    The workspace, the stem (dag.json) and the job id (state.json) are checked as mrender checks
    a DAG before they name a file: a crafted study cannot make --why read outside itself."""
    index = {s["id"]: s for s in study.dag["steps"]}
    out = {}
    for sid in ids:
        step, entry = index[sid], study.state["steps"][sid]
        _check_names(study.root, sid, step, entry.get("job_id"))
        workspace = os.path.join(study.root, step["workspace"])
        path = _find_err(workspace, step["stem"], entry.get("job_id"))
        out[sid] = {"path": os.path.relpath(path, study.root) if path else None,
                    "lines": tail(path, lines) if path and lines > 0 else []}
    return out


def _check_names(root: str, sid: str, step: dict, job_id) -> None:
    check_workspace(step["workspace"], f"{os.path.join(root, 'dag.json')}: step {sid!r}")
    check_stem(step["stem"], f"{os.path.join(root, 'dag.json')}: step {sid!r}")
    if job_id is not None:
        check_stem(job_id, f"{os.path.join(root, 'state.json')}: step {sid!r}", what="job id")


def _find_err(workspace: str, stem: str, job_id) -> str | None:
    if job_id:
        exact = os.path.join(workspace, f"{stem}.{job_id}.err")
        if os.path.isfile(exact):
            return exact
    base = os.path.join(glob.escape(workspace), glob.escape(stem))
    found = [p for p in glob.glob(base + ".*.err") + glob.glob(base + ".err") if os.path.isfile(p)]
    return max(found, key=lambda p: (os.path.getmtime(p), p)) if found else None


def tail(path: str, count: int) -> list[str]:
    """The last ``count`` lines of a file, reading only its end (stderr files can be huge): at
    most TAIL_MAX_BYTES, each line cut to LINE_MAX_CHARS, control characters escaped (a job's
    stderr may hold terminal escapes)."""
    try:
        with open(open_regular(path, "the stderr file"), "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            block = min(size, TAIL_BLOCK)
            while True:
                handle.seek(size - block)
                data = handle.read(block)
                if data.count(b"\n") > count or block == size or block >= TAIL_MAX_BYTES:
                    break
                block = min(size, block * 4, TAIL_MAX_BYTES)
    except (OSError, InvalidInput) as err:
        why = err.strerror if isinstance(err, OSError) else "not a regular file"
        return [visible(f"(cannot read {os.path.basename(path)}: {why})")]
    text = data.decode("utf-8", errors="replace")
    found = text.splitlines()
    if block < size and found:
        # the first line was cut by the seek: drop it, or show its end if it is all there is
        found = found[1:] if len(found) > 1 else ["... " + found[0]]
    return [_shown(line) for line in found[-count:]]


def _shown(line: str) -> str:
    line = visible(line.expandtabs())
    if len(line) > LINE_MAX_CHARS:
        half = (LINE_MAX_CHARS - 40) // 2
        line = f"{line[:half]} ... ({len(line) - 2 * half:,} characters cut) ... {line[-half:]}"
    return line


def unexpected_shape(path: str, err: Exception) -> InvalidInput:
    """A value of a type or form the tools never write (state.json and dag.json edited by hand
    with their checksums made to match): the report cannot be drawn.  MAESTRO_DEBUG=1 keeps the
    traceback, in case it is ours."""
    if os.environ.get("MAESTRO_DEBUG"):
        raise err
    return InvalidInput(f"{path}: state.json or dag.json holds a value the tools never write "
                        f"({type(err).__name__}: {err}); was it edited by hand? restore it")


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
            with open(open_regular(path, "the result file"), "rb") as handle:   # never a FIFO or device
                data = handle.read(RESULT_BYTES + 1)
        except FileNotFoundError:
            error = "missing"
        except InvalidInput:
            error = "not a regular file"
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
