"""Every registered scheduler through the same cases: the contract of runtime/schedulers/base.py.

The schedulers come from the registry; what a case needs to know of one is its harness,
tests/sched_contract/<key>.py (stand-ins replaying LSF, Flux and PBS; the real SLURM, marked
`slurm`; the real local runner).  A scheduler without a harness fails here, naming the file.
Parsing details of each scheduler stay in its own tests/unit/test_sched_<key>.py.
"""

import time

import pytest

from mruntime.schedulers import registry
from mruntime.schedulers.base import JobRef, SubmitRefused
from mshared import states as S
from mshared.errors import SchedulerUnavailable
from sched_contract import harness_class


def _harness_or_none(key):
    try:
        return harness_class(key)
    except LookupError:
        return None


def _params(keys):
    return [pytest.param(key, marks=getattr(_harness_or_none(key), "marks", ()), id=key) for key in keys]


@pytest.fixture
def harness(request, tmp_path, monkeypatch):
    made = harness_class(request.param)(tmp_path, monkeypatch)
    yield made
    made.close()


every_scheduler = pytest.mark.parametrize("harness", _params(registry.keys()), indirect=True)
# the stand-ins also replay garbage and hangs
FAULTY = [key for key in registry.keys() if getattr(_harness_or_none(key), "faults", ())]
with_stand_in = pytest.mark.parametrize("harness", _params(FAULTY), indirect=True)


def counting(adapter) -> list:
    """Record every scheduler command the adapter runs from now on."""
    calls, real = [], adapter.run

    def run(argv, **kwargs):
        calls.append(list(argv))
        return real(argv, **kwargs)

    adapter.run = run
    return calls


def submit(harness, adapter, name, long=True) -> JobRef:
    script, ws = harness.job(name, long=long)
    return JobRef(adapter.submit(script, ws, name), ws, name)


def eventually(probe, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not (answer := probe()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return answer


@pytest.mark.parametrize("key", registry.keys())
def test_every_scheduler_has_contract_test_data(key):
    harness_class(key)


@every_scheduler
def test_submit_returns_an_id_and_find_finds_the_job(harness):
    adapter = harness.adapter()
    other = harness.workspace("other")
    ref = submit(harness, adapter, "a")
    assert isinstance(ref.job_id, str) and ref.job_id and ref.job_id == ref.job_id.strip()
    found = eventually(lambda: adapter.find([ref.workspace, str(other)]))
    assert [(f.job_id, f.workspace) for f in found] == [(ref.job_id, ref.workspace)]


@every_scheduler
def test_status_of_several_jobs_is_one_query(harness):
    adapter = harness.adapter()
    refs = [submit(harness, adapter, name) for name in ("a", "b", "c")]
    calls = counting(adapter)
    out = adapter.status(refs + refs[:1])
    assert list(out) == [ref.job_id for ref in refs]
    assert all(s.job_id == jid and s.state in S.IN_FLIGHT for jid, s in out.items()), out
    assert len(calls) <= 1, calls
    assert adapter.status([]) == {} and len(calls) <= 1


@every_scheduler
def test_an_id_the_scheduler_does_not_know_is_never_finished(harness):
    adapter = harness.adapter()
    ref = submit(harness, adapter, "a")
    ghost = JobRef(harness.unknown_id(), ref.workspace, "a")
    for asked in ([ref, ghost], [ghost]):
        answer = adapter.status(asked)[ghost.job_id]
        assert answer.state == harness.forgotten_state != S.FINISHED
        assert answer.reason and answer.exit_code is None
    assert adapter.status([ref, ghost])[ref.job_id].state in S.IN_FLIGHT


@every_scheduler
def test_cancel_of_an_ended_or_unknown_job_is_no_error(harness):
    adapter = harness.adapter()
    ref = submit(harness, adapter, "a", long=False)
    harness.end(adapter, ref)
    adapter.cancel([ref])
    adapter.cancel([ref, JobRef(harness.unknown_id(), ref.workspace, "a")])
    adapter.cancel([])
    assert adapter.status([ref])[ref.job_id].state == S.FINISHED


@every_scheduler
def test_an_unreachable_scheduler_is_unavailable_and_marks_nothing_failed(harness):
    ref = submit(harness, harness.adapter(), "a")        # a job from before it went down
    harness.unreachable()
    adapter = harness.adapter()
    script, ws = harness.job("b", long=True)
    calls = {"submit": lambda: adapter.submit(script, ws, "b"), "status": lambda: adapter.status([ref]),
             "cancel": lambda: adapter.cancel([ref]), "find": lambda: adapter.find([ref.workspace])}
    for name, call in calls.items():
        with pytest.raises(SchedulerUnavailable) as exc:     # an error, never a state
            call()
        assert exc.value.exit_code == 69, name
        if harness.unreachable_words:
            assert harness.unreachable_words in str(exc.value), (name, str(exc.value))


@every_scheduler
def test_a_refused_submission_keeps_the_schedulers_words(harness):
    script, ws, words = harness.refused_job("r")
    with pytest.raises(SubmitRefused) as exc:
        harness.adapter().submit(script, ws, "r")
    assert words in str(exc.value)


@every_scheduler
def test_a_missing_client_is_unavailable(harness, monkeypatch, tmp_path):
    if harness.client is None:
        pytest.skip(f"{harness.key} runs no scheduler command")
    script, ws = harness.job("a")
    adapter = harness.adapter()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SchedulerUnavailable, match=f"'{harness.client}' was not found on PATH"):
        adapter.submit(script, ws, "a")
    with pytest.raises(SchedulerUnavailable, match="was not found on PATH"):
        adapter.status([JobRef("1", ws, "a")])


@with_stand_in
@pytest.mark.parametrize("mode,error", [
    ("refuse", SubmitRefused), ("down", SchedulerUnavailable), ("garbage", SchedulerUnavailable),
    ("hang", SchedulerUnavailable)])
def test_submit_faults(harness, mode, error):
    adapter = harness.adapter(timeout=0.5 if mode == "hang" else 10.0)
    script, ws = harness.job("a")
    harness.fail(mode, "submit")
    with pytest.raises(error) as exc:
        adapter.submit(script, ws, "a")
    assert str(exc.value)
    if mode == "down":
        assert harness.unreachable_words in str(exc.value)
    assert harness.jobs() == {}                      # nothing submitted, nothing left behind


@with_stand_in
@pytest.mark.parametrize("mode", ["down", "garbage", "hang"])
def test_status_faults_are_unavailable_never_a_state(harness, mode):
    ref = submit(harness, harness.adapter(), "a")
    adapter = harness.adapter(timeout=0.5 if mode == "hang" else 10.0)
    harness.fail(mode)
    with pytest.raises(SchedulerUnavailable):
        adapter.status([ref])
    if mode == "garbage":
        return          # a cancel answering 0 with noise: nothing to contradict
    with pytest.raises(SchedulerUnavailable):
        adapter.cancel([ref])
