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


def _handed_over(tmp_path, held, count: int) -> tuple[str, list[str]]:
    """A bundled study of ``count`` steps after msubmit's pass, and its tickets in order."""
    root = bundled_study(tmp_path, flat_spec(count), allocations=1)
    passes.run_pass(root, poll_jobs=False, submit=True, clock=lambda: NOW, adapters={"slurm": held})   # msubmit
    return root, _tickets(root)


def _without_ticket_pass(monkeypatch):
    monkeypatch.setattr(ticketpass, "attempt", lambda *args: ticketpass.Attempt())


def _same_as_the_full_pass(root: str, full: str, scheduler, monkeypatch) -> str:
    """A pass of ``root`` as it comes, and a full pass of its copy ``full``: the same outcome."""
    ours = _pass(root, scheduler)
    with monkeypatch.context() as patch:
        _without_ticket_pass(patch)
        theirs = _pass(full, scheduler)
    assert ours == theirs
    assert _outcome(root) == _outcome(full)
    return ours


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
        ours = _same_as_the_full_pass(root, full, held, monkeypatch)
    assert made == [True, False] * 3
    assert ours == "FAILURE"
    assert _outcome(root)[3] is not None       # status.csv, written from the pass view when due


def test_the_ticket_pass_index_is_the_full_index(tmp_path, held):
    root, tickets = _handed_over(tmp_path, held, 6)
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
    root, tickets = _handed_over(tmp_path, held, 4)
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


# ------------------------------------------------------------------ the ticket ledger

def _ledger_spy(monkeypatch) -> list:
    """Per ticket pass: whether it worked on the ledger (not the state)."""
    from mruntime.engine import ledger

    used, real = [], passes.do_work

    def work(study, *args, **kwargs):
        if isinstance(study.graph, ticketpass.TicketGraph):
            used.append(isinstance(study.state, ledger.LedgerState))
        return real(study, *args, **kwargs)

    monkeypatch.setattr(passes, "do_work", work)
    return used


@pytest.mark.parametrize("due, edited", [(False, False), (True, False), (True, True)],
                         ids=["ledger", "csv-due", "csv-edited"])
def test_a_pass_on_the_ledger_leaves_what_the_full_pass_leaves(tmp_path, held, monkeypatch, due, edited):
    """Rounds of a worker's files (starts, ends, a failure); each ticket pass works on the ledger
    the last one left: the same state, events, bundle files and status.csv as the full pass,
    round after round, to the end; with status.csv due every round, the rows that can have
    changed are made anew in the file as it is."""
    from mruntime.engine import ledger

    rewrites, real_csv = [], ledger.status_csv
    monkeypatch.setattr(ledger, "status_csv", lambda *a: rewrites.append(real_csv(*a)) or rewrites[-1])

    root = bundled_study(tmp_path, flat_spec(12), allocations=1)
    passes.run_pass(root, poll_jobs=False, submit=True, clock=lambda: NOW, adapters={"slurm": held})
    full = _copy(root, "full")
    t = _tickets(root)
    rounds = [(t[:2], {}), (t[:4], {t[0]: 0}), (t[:6], {t[1]: 0, t[2]: 2}), (t[:6], {}),
              (t[:9], {t[3]: 0, t[4]: 0}), (t[:11], {x: 0 for x in t[5:9]}), (t, {x: 0 for x in t[9:]})]
    used = _ledger_spy(monkeypatch)
    for claimed, ended in rounds:
        for study in (root, full):
            _worker(study, claimed, ended)
            if due and os.path.exists(os.path.join(study, "status.csv")):
                if edited:                             # not the file the ledger names: from the state
                    with open(os.path.join(study, "status.csv"), "a") as handle:
                        handle.write("x")
                os.utime(os.path.join(study, "status.csv"), (0, 0))
        ours = _same_as_the_full_pass(root, full, held, monkeypatch)
        if os.path.exists(os.path.join(root, ledger.FILE)):       # every shape kept is some step's
            doc = loads(open(os.path.join(root, ledger.FILE), "rb").read())
            assert set(doc["shape"]) == set(range(len(doc["shapes"])))
    assert ours == "FAILURE"
    # msubmit's pass left a ledger: the first ticket pass works on it; the last, which ends the
    # study, reads the state
    assert used[:-1] == [True] * (len(rounds) - 1) and used[-1] is False
    if due:      # every pass on the ledger that changed something: from the file as it is
        assert len(rewrites) == 5 and (set(rewrites) == {None} if edited else None not in rewrites)
    assert not os.path.exists(os.path.join(root, ledger.FILE))    # the study ended: no ledger


def test_the_ledger_index_is_the_full_index(tmp_path, held):
    from mruntime.engine import ledger

    root, tickets = _handed_over(tmp_path, held, 6)
    for claimed, ended in ((tickets[:3], {tickets[0]: 0}), (tickets[:4], {tickets[1]: 0})):
        _worker(root, claimed, ended)
        _pass(root, held)
        state = read_state(root)
        study = passes.load_study(root)
        kept = ledger.load(root, store.files_key(root), state["study"]["dag_sha256"])
        fast = kept.index(ticketpass.TicketGraph(study.graph.order, "slurm", study.graph.bundle))
        slow = StepIndex(state, study.graph)
        for name in ("open", "intents", "backing_off", "in_flight", "tickets", "ticket_of", "queued_tickets"):
            assert getattr(fast, name) == getattr(slow, name), name
        made = kept.state()
        assert {k: v for k, v in made.items() if k != "steps"} == {
            k: v for k, v in state.items() if k not in ("steps", "checksum")}
        assert all(made["steps"][sid] == state["steps"][sid] for sid in slow.in_flight)


@pytest.mark.parametrize("why", ["state-written", "journal-line", "dag-changed", "journal-large", "deleted"])
def test_a_ledger_not_of_the_state_files_is_not_used(tmp_path, held, monkeypatch, why):
    """A ledger is used only while state.json and its journal are the files it was made with,
    and the pass cannot need the whole state; else the ticket pass reads the state."""
    from mruntime.engine import ledger
    from mshared import statejournal

    root, tickets = _handed_over(tmp_path, held, 6)
    _worker(root, tickets[:2], {tickets[0]: 0})
    _pass(root, held)
    assert os.path.exists(os.path.join(root, ledger.FILE))
    if why == "state-written":
        edit_state(root, lambda state, dag: state["settings"].update(poll_interval=5))
    elif why == "journal-line":                   # a stale line: the state is the same, its files not
        statejournal.append(root, statejournal.encode("0" * 64, {}, {}), durable=False)
    elif why == "dag-changed":
        os.utime(os.path.join(root, "dag.json"))
    elif why == "journal-large":
        monkeypatch.setattr(store, "COMPACT_MIN", 1)
        monkeypatch.setattr(ticketpass, "COMPACT_MIN", 1)
        monkeypatch.setattr(ticketpass, "COMPACT_SHARE", 0.0001)
    elif why == "deleted":
        os.unlink(os.path.join(root, ledger.FILE))
    used = _ledger_spy(monkeypatch)
    _worker(root, tickets[:3], {tickets[1]: 0})
    _pass(root, held)
    assert True not in used


def test_a_step_outside_the_ledger_is_never_guessed(tmp_path, held):
    """The ledger's steps answer only for the steps in flight; anything else (a lookup of
    another step, iterating them) asks for the whole state instead of answering wrong."""
    from mruntime.engine import ledger

    root, tickets = _handed_over(tmp_path, held, 4)
    _worker(root, tickets[:2], {tickets[0]: 0})
    _pass(root, held)
    state = read_state(root)
    made = ledger.load(root, store.files_key(root), state["study"]["dag_sha256"]).state()
    ended = next(sid for sid, e in state["steps"].items() if e["state"] == "FINISHED")
    for look in (lambda s: s[ended], lambda s: list(s), lambda s: len(s), lambda s: s.values(),
                 lambda s: s.items(), lambda s: ended in s, lambda s: s.get(ended),
                 lambda s: s.setdefault(ended, {}), lambda s: s.pop(ended), lambda s: s.update({})):
        with pytest.raises(ledger.NeedsWholeState):
            look(made["steps"])


def test_a_pass_that_looks_past_the_ledger_is_made_again_on_the_whole_state(tmp_path, held, monkeypatch):
    """The safety net: should the work of a pass on the ledger look at a step the ledger does
    not hold, nothing is written yet; the pass is made again on the whole state, and leaves
    what the full pass leaves (the ledger is dropped)."""
    from mruntime.engine import ledger

    root = bundled_study(tmp_path, flat_spec(6), allocations=1)
    passes.run_pass(root, poll_jobs=False, submit=True, clock=lambda: NOW, adapters={"slurm": held})
    full = _copy(root, "full")
    tickets = _tickets(root)
    for claimed, ended in ((tickets[:2], {tickets[0]: 0}), (tickets[:4], {tickets[1]: 0})):
        for study in (root, full):
            _worker(study, claimed, ended)
        looked, real = [], passes.do_work

        def work(study, *args, **kwargs):
            if isinstance(study.state, ledger.LedgerState):
                looked.append(1)
                list(study.state["steps"])            # past the ledger
            return real(study, *args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(passes, "do_work", work)
            _same_as_the_full_pass(root, full, held, patch)
    assert looked == [1]


def test_shapes_from_the_whole_state_give_back_every_entry():
    """The ledger's shapes, made by sweeps per set of fields: every entry they cover comes back
    as it was, values of every type (1, 1.0 and True stay three shapes; a mapping is a value);
    an entry they cannot cover (a retried job list) is left to the one-by-one path."""
    from mruntime.engine import ledger
    from mshared.statefile import initial_step

    base = {**initial_step(), "state": "PENDING", "submitted": AT, "attempts": 1}
    entries = {f"s{i}": {**base, "job_id": f"b-x-{i}", "jobs": [f"b-x-{i}"]} for i in range(8)}
    entries["s1"].update(state="RUNNING", started=AT, alloc="7", node="n1")
    entries["s2"].update(state="RUNNING", started=AT, alloc="7", node="n1")
    entries["s3"]["jobs"] = ["b-x-0", "b-x-3"]                  # a second try
    entries["s4"]["intent"] = {"attempt": 1, "at": AT}
    entries["s6"]["attempts"] = 1.0
    entries["s7"]["attempts"] = True
    shapes, shape_of = ledger._shapes_of(list(entries), list(entries.values()))
    assert set(shape_of) == set(entries) - {"s3"} and len(shapes) == 5
    for sid, at in shape_of.items():
        ticket = entries[sid]["job_id"]
        made = {**shapes[at], "job_id": ticket, "jobs": [*shapes[at]["jobs"], ticket]}
        assert made == entries[sid] and type(made["attempts"]) is type(entries[sid]["attempts"])
    shape = ledger._shape(entries["s3"])
    assert {**shape, "job_id": "b-x-3", "jobs": [*shape["jobs"], "b-x-3"]} == entries["s3"]


def test_the_pass_that_hands_every_step_over_leaves_a_ledger(tmp_path, held, monkeypatch):
    """msubmit's pass (a full pass) leaves the ledger of the study it hands over: the first cron
    pass after it reads neither the state nor the DAG."""
    from mruntime.engine import ledger

    root, tickets = _handed_over(tmp_path, held, 5)
    assert os.path.exists(os.path.join(root, ledger.FILE))
    _worker(root, tickets[:2], {tickets[0]: 0})
    monkeypatch.setattr(store, "read_state", lambda root: pytest.fail("the state was read"))
    monkeypatch.setattr(store, "read_dag", lambda *a: pytest.fail("the DAG was read"))
    assert _pass(root, held) == "RUNNING"
