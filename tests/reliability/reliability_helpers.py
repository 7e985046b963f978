"""Helpers shared by the reliability suite (tests/reliability/*).

Imported as a plain module: pytest puts tests/reliability on sys.path (no __init__.py here), and
tests/conftest.py puts tests/ there for ``pipeline_helpers``.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import re
import subprocess
import sys
import time

from mshared.statefile import read_state

from pipeline_helpers import make_study, run, tool  # noqa: F401  (re-exported)

STRESS = bool(os.environ.get("MAESTRO_STRESS"))
PY = sys.executable


def scaled(default: int, stress: int) -> int:
    """``stress`` under `make stress` (MAESTRO_STRESS=1), else ``default``."""
    return stress if STRESS else default


def chain_spec(name: str, steps: int, fan: int = 4, sleep: str = "0.0{i7}", batch: str | None = None,
               extra_run: str = "") -> str:
    """``steps`` local steps s0..s<n-1>, s<i> depending on s<i-fan>: each appends its id to
    $(OUTPUT_PATH)/runs.txt (a step that ran twice shows twice) and sleeps a little."""
    lines = [f"description: {{name: {name}, description: reliability}}"]
    if batch:
        lines.append(f"batch: {batch}")
    lines.append("study:")
    for i in range(steps):
        parent = f", depends: [s{i - fan}]" if i >= fan else ""
        nap = sleep.format(i7=i % 7, i=i)
        lines.append(f"  - {{name: s{i}, description: d, run: {{cmd: 'echo s{i} >> $(OUTPUT_PATH)/runs.txt; "
                     f"sleep {nap}'{parent}{extra_run}}}}}")
    return "\n".join(lines) + "\n"


def states(root) -> dict[str, str]:
    return {sid: entry["state"] for sid, entry in read_state(root)["steps"].items()}


def runs(root) -> list[str]:
    path = os.path.join(root, "runs.txt")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return handle.read().split()


def dag_steps(root) -> list[dict]:
    with open(os.path.join(root, "dag.json"), "rb") as handle:
        return json.load(handle)["steps"]


def job_records(root) -> dict[str, set[str]]:
    """step id -> the local job ids (runner pids) found in its workspace: from the job records
    <stem>.<pid>.job.json and from the runner's own <stem>.<pid>.out (a loop killed between
    starting a job and writing its record leaves only the .out, which the next pass adopts)."""
    out = {}
    for step in dag_steps(root):
        base = os.path.join(glob.escape(os.path.join(root, step["workspace"])), glob.escape(step["stem"]))
        pids = set()
        for suffix in (".job.json", ".out"):
            for path in glob.glob(base + ".*" + suffix):
                middle = os.path.basename(path)[len(step["stem"]) + 1:-len(suffix)]
                if re.fullmatch(r"\d+", middle):
                    pids.add(middle)
        out[step["id"]] = pids
    return out


def finished_events(root) -> collections.Counter:
    """How many times events.jsonl says each step went to FINISHED."""
    counts = collections.Counter()
    path = os.path.join(root, "events.jsonl")
    with open(path, "rb") as handle:
        for line in handle:
            event = json.loads(line)
            if event["to"] == "FINISHED":
                counts[event["step"]] += 1
    return counts


def comparable(root) -> dict[str, tuple]:
    """What must be equal between a run with crashes and one without: state, exit code, attempts."""
    return {sid: (e["state"], e["exit_code"], e["restarts"])
            for sid, e in read_state(root)["steps"].items()}


def wait_for(predicate, timeout: float, poll: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def tree(path) -> set[str]:
    """Every path under ``path`` (relative), directories with a trailing '/'."""
    out = set()
    for base, dirs, files in os.walk(path):
        rel = os.path.relpath(base, path)
        for name in dirs:
            out.add(os.path.normpath(os.path.join(rel, name)) + "/")
        for name in files:
            out.add(os.path.normpath(os.path.join(rel, name)))
    return out


def one_line_error(stderr: str, tool_name: str) -> str:
    """Assert ``stderr`` holds exactly one `<tool>: error: ...` line, its last, and no traceback
    (an informational line before it, such as `maestro cancel`'s "Study in ... to be cancelled.",
    is allowed); return the error line."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr, stderr
    errors = [ln for ln in lines if ": error: " in ln or "internal error" in ln]
    assert len(errors) == 1, f"expected one error line on stderr, got {len(errors)}:\n{stderr}"
    assert lines[-1] == errors[0], stderr
    assert errors[0].startswith(f"{tool_name}: error: "), errors[0]
    return errors[0]


def proc_run(argv, cwd=None, timeout=120, env=None, input=None):
    """Run a command (installed tool names are resolved in the venv) and capture its output."""
    if not os.path.isabs(argv[0]) and os.path.exists(tool(argv[0])):
        argv = [tool(argv[0]), *argv[1:]]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


ADDRESS_SPACE = 2 * 1024 ** 3     # a measured child is stopped long before it can hurt the machine

_MEASURE = r"""
import json, resource, subprocess, sys, time
limit, timeout, stdin_path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
argv = sys.argv[4:]
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.monotonic()
feeder = None
if stdin_path == "|yes":           # an endless pipe
    feeder = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    stdin = feeder.stdout
elif stdin_path != "-":
    stdin = open(stdin_path, "rb")
else:
    stdin = subprocess.DEVNULL
try:
    proc = subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=timeout, preexec_fn=cap)
    code, err = proc.returncode, proc.stderr.decode("utf-8", "replace")
except subprocess.TimeoutExpired:
    code, err = "timeout", ""
finally:
    if feeder is not None:
        feeder.kill()
        feeder.wait()
elapsed = time.monotonic() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"code": code, "stderr": err, "seconds": elapsed, "rss_mb": rss}))
"""


def measured(argv, cwd, stdin="-", timeout=11.0) -> dict:
    """Run ``argv`` under RLIMIT_AS ADDRESS_SPACE and ``timeout`` in a small Python wrapper;
    {"code" (or "timeout"), "stderr", "seconds", "rss_mb" (the child's peak RSS)}.  ``stdin``:
    "-" (none), a file path, or "|yes" (an endless pipe)."""
    if not os.path.isabs(argv[0]) and os.path.exists(tool(argv[0])):
        argv = [tool(argv[0]), *argv[1:]]
    out = subprocess.run([PY, "-c", _MEASURE, str(ADDRESS_SPACE), str(timeout), stdin, *argv],
                         capture_output=True, text=True, cwd=cwd, timeout=timeout + 60)
    return json.loads(out.stdout)
