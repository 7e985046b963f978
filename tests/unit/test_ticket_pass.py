"""The ticket pass (mruntime.engine.ticketpass): a single pass of a bundled study whose open steps
are all tickets, made without the DAG, leaves exactly what the full pass leaves, and steps aside
(the full pass runs) whenever anything else could happen."""

import os
import shutil
from datetime import datetime, timezone

import pytest

from bundle_helpers import ProcessScheduler, bundled_study, flat_spec, use_plain_allocations
from engine_helpers import render_study
from mruntime.bundle import files as F
from mruntime.engine import passes, store, ticketpass
from mruntime.engine.index import StepIndex
from mshared.jsonio import loads
from mshared.statefile import read_state
from mshared.studydir import edit_state

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
AT = "2026-01-02T03:04:00Z"


@pytest.fixture
def held(monkeypatch):
    """A stand-in scheduler whose allocations stay PENDING: the workers' files are written here."""
    use_plain_allocations(monkeypatch)
    return ProcessScheduler(start=False)


def _copy(root: str, name: str) -> str:
    other = os.path.join(os.path.dirname(root), name)
    shutil.copytree(root, other)
    with open(os.path.join(other, "state.json.lock"), "wb") as handle:
        handle.write(os.fsencode(other) + b"\n")
    return other


def _tickets(root: str) -> list[str]:
    steps = read_state(root)["steps"]
    return sorted((e["job_id"] for e in steps.values() if F.is_ticket(e["job_id"])), key=lambda t: int(t.rsplit("-", 1)[1]))


def _worker(root: str, claimed: list[str], ended: dict[str, int]) -> None:
    """What a live worker leaves: its lease, claims of ``claimed``, done records of ``ended``
    (ticket -> exit code; a negative one: stopped past its walltime)."""
    F.make_dirs(root)
    where = {"worker": "w1", "alloc": "1000", "allocation": "a1", "node": "n1"}
    F.put_json(F.path(root, F.LEASES, "w1.json"), {**where, "beat": NOW.timestamp(), "free": 1, "ended": False})
    for ticket in claimed:
        F.claim(root, ticket, {**where, "at": AT})
    for ticket, code in ended.items():
        how = "timed_out" if code < 0 else "exited"
        F.put_json(F.path(root, F.DONE, ticket + ".json"),
                   {"ticket": ticket, "exit_code": max(code, 0), "signal": 0, "how": how, "started": AT,
                    "ended": "2026-01-02T03:04:03Z", **where})


def _outcome(root: str) -> tuple:
    state = read_state(root)
    state.pop("checksum")
    state["study"].pop("root")
    with open(os.path.join(root, "events.jsonl"), "rb") as handle:
        events = [loads(line) for line in handle]
    bundle = {name: F.get_json(F.path(root, name)) for name in (F.ALLOCATIONS, F.OUTLOOK)}
    csv = None
    if os.path.exists(os.path.join(root, "status.csv")):
        with open(os.path.join(root, "status.csv")) as handle:
            csv = handle.read()
    return state, events, bundle, csv


def _pass(root: str, scheduler) -> str:
    return passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW,
                           adapters={"slurm": scheduler}).status


def _without_ticket_pass(monkeypatch):
    monkeypatch.setattr(ticketpass, "attempt", lambda *args: ticketpass.Attempt())


def _spy(monkeypatch) -> list:
    """The ticket passes made: one entry per pass that used the stand-in graph."""
    made, real = [], passes.do_work

    def work(study, *args, **kwargs):
        made.append(isinstance(study.graph, ticketpass.TicketGraph))
        return real(study, *args, **kwargs)

    monkeypatch.setattr(passes, "do_work", work)
    return made


def test_a_ticket_pass_leaves_what_the_full_pass_leaves(tmp_path, held, monkeypatch):
    root = bundled_study(tmp_path, flat_spec(8), allocations=1)
    passes.run_pass(root, poll_jobs=False, submit=True, clock=lambda: NOW, adapters={"slurm": held})   # msubmit
    assert os.path.exists(os.path.join(root, ticketpass.FILE))
    full = _copy(root, "full")
    tickets = _tickets(root)
    rounds = [(tickets[:4], {tickets[0]: 0, tickets[1]: 0, tickets[2]: 3}),      # 3 ended (one failed), 1 runs
              (tickets[:7], {t: 0 for t in tickets[3:6]}),
              (tickets, {t: 0 for t in tickets[6:]})]                          # the last: the study ends
    made = _spy(monkeypatch)
    for claimed, ended in rounds:
        for study in (root, full):
            _worker(study, claimed, ended)
        ours = _pass(root, held)
        with monkeypatch.context() as patch:
            _without_ticket_pass(patch)
            theirs = _pass(full, held)
        assert ours == theirs
        assert _outcome(root) == _outcome(full)
    assert made == [True, False] * 3
    assert ours == "FAILURE"
    assert _outcome(root)[3] is not None       # status.csv, written from the pass view when due


def test_the_ticket_pass_index_is_the_full_index(tmp_path, held):
    root = bundled_study(tmp_path, flat_spec(6), allocations=1)
    passes.run_pass(root, poll_jobs=False, submit=True, clock=lambda: NOW, adapters={"slurm": held})
    tickets = _tickets(root)
    _worker(root, tickets[:3], {tickets[0]: 0})
    _pass(root, held)
    state = read_state(root)
    study = passes.load_study(root)
    fast = ticketpass.TicketIndex.of(state, ticketpass.TicketGraph(study.graph.order, "slurm", study.graph.bundle))
    slow = StepIndex(state, study.graph)
    for name in ("open", "intents", "backing_off", "in_flight", "tickets", "ticket_of", "queued_tickets"):
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast.waiting == slow.waiting == {}


@pytest.mark.parametrize("why", ["timed-out", "request", "waiting-step", "no-note", "dag-changed", "bundle-off"])
def test_the_full_pass_runs_whenever_anything_else_could_happen(tmp_path, held, monkeypatch, why):
    root = bundled_study(tmp_path, flat_spec(4), allocations=1)
    passes.run_pass(root, poll_jobs=False, submit=True, clock=lambda: NOW, adapters={"slurm": held})
    tickets = _tickets(root)
    _worker(root, tickets[:2], {tickets[0]: -1 if why == "timed-out" else 0})
    if why == "request":
        edit_state(root, lambda state, dag: state["requests"].setdefault("queue", []).append(
            {"kind": "cancel", "steps": [next(iter(state["steps"]))]}))
    elif why == "waiting-step":
        edit_state(root, lambda state, dag: state["steps"][max(state["steps"])].update(
            state="INITIALIZED", job_id=None))
    elif why == "no-note":
        os.unlink(os.path.join(root, ticketpass.FILE))
    elif why == "dag-changed":
        os.utime(os.path.join(root, "dag.json"))
    elif why == "bundle-off":
        edit_state(root, lambda state, dag: state["settings"].update(bundle=None))
    made = _spy(monkeypatch)
    queries = held.queries
    _pass(root, held)
    assert made == [False]
    assert held.queries - queries == 1            # the allocations were asked about once in the pass
    if why in ("no-note", "dag-changed"):         # the full pass left the note again: the next is one
        assert os.path.exists(os.path.join(root, ticketpass.FILE))
        _pass(root, held)
        assert made == [False, True]


def test_an_unbundled_study_leaves_no_note_and_never_tries(tmp_path, monkeypatch):
    root = render_study(tmp_path, flat_spec(2).replace("type: slurm", "type: local"))
    tried = []
    real = store.Store.read_state
    monkeypatch.setattr(store.Store, "read_state", lambda self: tried.append(1) or real(self))
    passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW)
    assert not os.path.exists(os.path.join(root, ticketpass.FILE))
    assert tried == [1]                    # the full pass's read only
