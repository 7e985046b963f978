"""Each fast path the engine keeps for speed gives what the slow path gives (docs/architecture.md).

The engine runs against a deterministic stand-in scheduler with a fixed clock, so two runs of the
same study that differ only in the path taken must leave byte-identical states and event logs.
"""

import os
import shutil
from datetime import datetime, timezone

import pytest

from mexpand.core import expand
from mexpand.specload import load_yaml
from mruntime.engine import loop, passes, store, submission, view
from mruntime.engine import study as pass_study
from mruntime.schedulers.base import JobStatus
from mshared import states as S
from engine_helpers import FakeScheduler, render_study
from mshared import statejournal
from mshared.jsonio import loads
from mshared.statefile import read_state

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
SLOTS = 100   # every ready local step goes at once: parents end in different passes

SPEC = """
description: {name: fast, description: d}
global.parameters:
  P: {values: [1, 2, 3, 4, 5, 6], label: P.%%}
study:
  - {name: prep, description: d, run: {cmd: echo prep}}
  - {name: sim, description: d, run: {cmd: echo $(P), depends: [prep]}}
  - {name: bad, description: d, run: {cmd: echo $(P), depends: [sim]}}
  - {name: post, description: d, run: {cmd: echo post, depends: [sim_*]}}
  - {name: after, description: d, run: {cmd: echo after, depends: [bad_*], after_failed_parents: true}}
"""


class Scripted(FakeScheduler):
    """A deterministic scheduler: jobs get ids 1, 2, ... in submission order; a job is RUNNING
    from its first query and ends at its second to fifth (by its id, so that parents end in
    different passes), FAILED when its stem is that of `bad` with P=3."""

    def __init__(self, batch=None, **kwargs):
        super().__init__()
        self.seen = {}

    def status(self, refs):
        out = {}
        for ref in refs:
            count = self.seen[ref.job_id] = self.seen.get(ref.job_id, 0) + 1
            if count < 2 + (6 - int(ref.job_id)) % 4:
                out[ref.job_id] = JobStatus(ref.job_id, S.RUNNING, started="2026-01-02T03:04:05Z")
            elif ref.stem == "bad_P.3":
                out[ref.job_id] = JobStatus(ref.job_id, S.FAILED, 1, "exit code 1")
            else:
                out[ref.job_id] = JobStatus(ref.job_id, S.FINISHED, 0)
        return out


BATCH = """
batch: {type: slurm, queue: q}
""" + SPEC.replace("run: {cmd:", "run: {procs: 1, cmd:")


def _render(tmp_path, name="study", spec=SPEC) -> str:
    return render_study(tmp_path, spec, name)


def _copy(root: str, name: str) -> str:
    """A copy of the study that passes accept: its lock file records its own place (its scripts
    still name the original, which the scripted scheduler here never runs)."""
    other = os.path.join(os.path.dirname(root), name)
    shutil.copytree(root, other)
    with open(os.path.join(other, "state.json.lock"), "wb") as handle:
        handle.write(os.fsencode(other) + b"\n")
    return other


def _outcome(root: str) -> tuple[dict, list]:
    """The final state (root-independent) and the event log."""
    with open(os.path.join(root, "state.json"), "rb") as handle:
        state = loads(handle.read())
    state.pop("checksum")
    state["study"].pop("root")
    events = [loads(line) for line in open(os.path.join(root, "events.jsonl"), "rb")]
    return state, events


def _loop(monkeypatch, root: str) -> dict:
    adapter = Scripted()
    monkeypatch.setattr(pass_study, "get_adapter", lambda key, batch=None, **kw: adapter)
    return loop.run_loop([root], clock=lambda: NOW, sleep=lambda seconds: None, local_slots=SLOTS)


def _single_passes(root: str) -> str:
    adapter = Scripted()
    for _ in range(100):
        result = passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW,
                                 adapters={"local": adapter}, local_slots=SLOTS)
        if result.status != "RUNNING":
            return result.status
    raise AssertionError("the study did not end")


def test_a_loop_ends_as_single_passes_do(tmp_path, monkeypatch):
    """A loop keeps its state and the parsed DAG in memory between passes: it ends exactly as
    single passes do, each of which reads everything from disk."""
    fast = _render(tmp_path)
    slow = _copy(fast, "slow")
    assert _loop(monkeypatch, fast) == {fast: "FAILURE"}
    assert _single_passes(slow) == "FAILURE"
    assert _outcome(fast) == _outcome(slow)
    assert not os.path.getsize(os.path.join(fast, "changes.jsonl"))   # folded into state.json at the end


def test_journal_lines_end_as_writing_state_json_every_pass(tmp_path, monkeypatch):
    """A pass appends its changes to the state's journal instead of rewriting state.json: it
    ends exactly as passes that write state.json whole every time."""
    journaling = _render(tmp_path)
    writing = _copy(journaling, "writing")
    lines = []
    real = store.statejournal.append
    monkeypatch.setattr(store.statejournal, "append", lambda *a: lines.append(1) or real(*a))
    _loop(monkeypatch, journaling)
    assert len(lines) > 10
    monkeypatch.setattr(store, "COMPACT_MIN", 0)          # the slow path: state.json every pass
    monkeypatch.setattr(store, "COMPACT_SHARE", 0)
    _loop(monkeypatch, writing)
    assert _outcome(journaling) == _outcome(writing)


def test_the_pass_view_gives_the_same_passes_as_the_full_dag(tmp_path, monkeypatch):
    with_view = _render(tmp_path)
    without = _copy(with_view, "without")
    assert _single_passes(with_view) == "FAILURE"
    assert os.path.exists(os.path.join(with_view, view.FILE))
    monkeypatch.setattr(view, "load", lambda *args: None)   # the slow path: all of dag.json, every pass
    monkeypatch.setattr(view, "make", lambda dag, *args: dag)
    monkeypatch.setattr(view, "save", lambda *args: None)
    read = []
    real = store.read_dag
    monkeypatch.setattr(store, "read_dag", lambda *args: read.append(1) or real(*args))
    assert _single_passes(without) == "FAILURE"
    assert read and not os.path.exists(os.path.join(without, view.FILE))
    assert _outcome(with_view) == _outcome(without)


def test_batch_submissions_in_parallel_are_recorded_as_one_at_a_time(tmp_path, monkeypatch):
    def run(root, workers):
        monkeypatch.setattr(submission, "SUBMIT_WORKERS", workers)
        adapter = Scripted()
        monkeypatch.setattr(pass_study, "get_adapter", lambda key, batch=None, **kw: adapter)
        for _ in range(100):
            if passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW).status != "RUNNING":
                return adapter.jobs
        raise AssertionError("the study did not end")

    parallel = _render(tmp_path, spec=BATCH)
    serial = _copy(parallel, "serial")
    assert run(parallel, 4) == run(serial, 1)
    assert _outcome(parallel) == _outcome(serial)


@pytest.mark.parametrize("deleted", ["view", "report-view", "csv-view", "journal-line"])
def test_derived_files_can_go_at_any_time(tmp_path, monkeypatch, deleted):
    """The pass view is derived data and a stale journal line is ignored: removing the view, or
    adding a stale line, between passes changes nothing."""
    a = _render(tmp_path)
    b = _copy(a, "b")
    adapter_a, adapter_b = Scripted(), Scripted()
    for _ in range(100):
        gone = {"view": view.FILE, "report-view": view.REPORT_FILE, "csv-view": view.CSV_FILE}.get(deleted)
        if gone and os.path.exists(os.path.join(b, gone)):
            os.unlink(os.path.join(b, gone))
        if deleted == "journal-line":          # a line of a state.json long gone: stale
            line = statejournal.encode("0" * 64, {"prep": {"state": "FAILED"}}, {})
            statejournal.append(b, line, durable=False)
        ra = passes.run_pass(a, poll_jobs=True, submit=True, clock=lambda: NOW, adapters={"local": adapter_a},
                             local_slots=SLOTS)
        rb = passes.run_pass(b, poll_jobs=True, submit=True, clock=lambda: NOW, adapters={"local": adapter_b},
                             local_slots=SLOTS)
        assert ra.status == rb.status
        if ra.status != "RUNNING":
            break
    assert _outcome(a) == _outcome(b)


class Slow(Scripted):
    """Jobs stay RUNNING for several polls, so that many passes find nothing moved."""

    def status(self, refs):
        out = {}
        for ref in refs:
            count = self.seen[ref.job_id] = self.seen.get(ref.job_id, 0) + 1
            if count < 3 + int(ref.job_id) % 4:
                out[ref.job_id] = JobStatus(ref.job_id, S.PENDING if count == 1 else S.RUNNING,
                                            started="2026-01-02T03:04:05Z" if count > 1 else None)
            else:
                out[ref.job_id] = JobStatus(ref.job_id, S.FINISHED, 0)
        return out


@pytest.mark.parametrize("spec", [SPEC, BATCH], ids=["local", "batch"])
def test_a_quiet_pass_ends_as_a_full_pass_does(tmp_path, monkeypatch, spec):
    """A single pass that finds, from the pass summary, that no job moved and nothing else can
    happen stops before reading the state: the study ends exactly as with full passes only."""
    from mruntime.engine import summary

    def run(root):
        adapter = Slow()
        monkeypatch.setattr(pass_study, "get_adapter", lambda key, batch=None, **kw: adapter)
        for _ in range(200):
            result = passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW, local_slots=SLOTS)
            if result.status != "RUNNING":
                return adapter.jobs
        raise AssertionError("the study did not end")

    quiet = _render(tmp_path, spec=spec)
    full = _copy(quiet, "full")
    taken = []
    real_quiet = summary.quiet
    monkeypatch.setattr(summary, "quiet", lambda *a, **k: (lambda r: taken.append(r[0] is not None) or r)(
        real_quiet(*a, **k)))
    jobs = run(quiet)
    assert sum(taken) > 5                                  # quiet passes did happen
    monkeypatch.setattr(summary, "quiet", lambda *a, **k: (None, {}))   # the slow path: full passes
    assert run(full) == jobs
    assert _outcome(quiet) == _outcome(full)


def test_a_quiet_pass_reads_no_state(tmp_path, monkeypatch):
    root = _render(tmp_path)
    adapter = Slow()
    monkeypatch.setattr(pass_study, "get_adapter", lambda key, batch=None, **kw: adapter)
    for _ in range(3):    # prep submitted; then still PENDING (a quiet pass); then RUNNING
        passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW, local_slots=SLOTS)
    assert read_state(root)["steps"]["prep"]["state"] == S.RUNNING
    monkeypatch.setattr(store, "read_state", lambda root: pytest.fail("a quiet pass read the state"))
    result = passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW, local_slots=SLOTS)
    assert result.status == "RUNNING" and result.events == [] and result.in_flight == 1


def test_a_local_study_needs_no_per_step_scheduler_lookup(tmp_path):
    """A study whose batch.type runs nothing on a scheduler answers "local" for every step
    without looking at it: the same answer the per-step lookup gives."""
    from mruntime.engine.graph import Graph, _AdapterKeys

    dag, _ = expand(load_yaml(SPEC, "s"), source="s", spec_text=SPEC, spec_path=None, specroot="/",
                    cwd="/", hashws=False)
    graph = Graph.from_dag(dag)
    per_step = _AdapterKeys(graph.steps, "local")
    assert [graph.adapter_keys[sid] for sid in graph.order] == [per_step[sid] for sid in graph.order]


def test_status_csv_from_the_csv_view_is_the_file_from_the_full_dag(tmp_path, monkeypatch):
    """A pass writes status.csv with the Workspace and Params cells of the CSV view: after every
    pass of a run, the file is byte for byte the one made from dag.json's steps, and so is the
    file of a pass without the view (every third pass here)."""
    from mshared.statusrows import status_csv
    from mshared.studydir import read_dag

    root = _render(tmp_path)
    adapter = Scripted()
    taken, real = [], view.load_csv
    for number in range(100):
        without = number % 3 == 2
        monkeypatch.setattr(view, "load_csv", lambda *args: None if without else taken.append(1) or real(*args))
        if os.path.exists(os.path.join(root, "status.csv")):   # due: a single pass rewrites it
            os.utime(os.path.join(root, "status.csv"), (0, 0))
        status = passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW,
                                 adapters={"local": adapter}, local_slots=SLOTS).status
        state = read_state(root)
        with open(os.path.join(root, "status.csv"), encoding="utf-8") as handle:
            assert handle.read() == status_csv(read_dag(root, state)["steps"], state["steps"], NOW)
        if status != "RUNNING":
            break
    assert len(taken) > 3


@pytest.mark.parametrize("name", ["REPORT_FILE", "CSV_FILE"])
def test_a_deleted_view_is_made_again_by_the_next_pass(tmp_path, name):
    root = _render(tmp_path)
    passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW, adapters={"local": Scripted()},
                    local_slots=SLOTS)
    path = os.path.join(root, getattr(view, name))
    before = open(path, "rb").read()
    os.unlink(path)
    passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW, adapters={"local": Scripted()},
                    local_slots=SLOTS)
    assert open(path, "rb").read() == before


@pytest.mark.parametrize("fmt, layout, reader", [
    ("table", "flat", "load_report"), ("table", "legacy", "load_report"), ("table", "narrow", "load_report"),
    ("md", "flat", "load_report"), ("json", "flat", "load_report"), ("ndjson", "flat", "load_report"),
    ("csv", "flat", "load")])
def test_mreport_on_a_view_reports_as_on_the_full_dag(tmp_path, monkeypatch, fmt, layout, reader):
    """mreport's tables, JSON step records and CSV read a view of dag.json (the report view, or
    the pass view for the CSV) when it was made from this dag.json: byte for byte the report
    that dag.json gives, mid-run and at the end, filtered or not."""
    from mreport import load as report_load
    from mshared import dagview

    root = _render(tmp_path)
    adapter = Scripted()
    reports = []
    for _ in range(100):
        status = passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW,
                                 adapters={"local": adapter}, local_slots=SLOTS).status
        for steps in ((), ("sim*",)):
            fast, taken = _report_counting(monkeypatch, dagview, reader, root, fmt, layout, steps)
            for name in ("load", "load_report"):                       # the slow path: dag.json
                monkeypatch.setattr(dagview, name, lambda *args: None)
            slow, read = _report_counting(monkeypatch, report_load, "read_dag", root, fmt, layout, steps)
            monkeypatch.undo()
            assert taken and read and fast.output == slow.output and fast.check == slow.check
            reports.append(fast.output)
        if status != "RUNNING":
            break
    assert len(set(reports)) > 3        # the report changed as the study went on


@pytest.mark.parametrize("source, schema", [("report", "maestro.report-view"), ("pass", "maestro.dag-view")])
def test_mreport_reads_dag_json_when_the_view_is_not_of_it(tmp_path, source, schema):
    """A view left by an earlier dag.json (or none) is not used: the report reads dag.json."""
    from mreport.load import read_study

    root = _render(tmp_path)
    _single_passes(root)
    assert read_study(root, with_dag=True, source=source).dag["schema"] == schema
    assert read_study(root, with_dag=True, source="dag").dag["schema"] == "maestro.dag"
    os.utime(os.path.join(root, "dag.json"))                    # no longer the file it was made from
    assert read_study(root, with_dag=True, source=source).dag["schema"] == "maestro.dag"


def _report_counting(monkeypatch, module, name: str, root: str, fmt: str, layout: str, steps):
    """(mreport's report of ``root``, how often ``module.name`` was called for it)."""
    from mreport.core import report_studies

    calls, real = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *args: calls.append(1) or real(*args))
    [one] = report_studies([root], now=NOW, fmt=fmt, layout=layout, steps=steps)
    monkeypatch.setattr(module, name, real)
    return one, len(calls)
