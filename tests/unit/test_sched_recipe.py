"""docs/schedulers.md, "Adding a scheduler", followed with a made-up scheduler: its module, its
registry line and its test data (a harness) are all it takes for mexpand, mrender and the
contract suite to pick it up."""

import sys
import textwrap
from datetime import datetime, timezone

import pytest

import sched_contract
import test_scheduler_contract as contract
from expand_helpers import expand_text
from mexpand.validate import validate_spec
from mrender import core
from mruntime import scripts
from mruntime.schedulers import registry
from sched_contract import harness_class

# 1. its module (runtime/schedulers/fake.py); its client's commands are fsub, fstat, fdel, fls
MODULE = '''
"""A made-up scheduler: `#FAKE` headers, an `frun` launcher, commands fsub/fstat/fdel/fls."""

from mruntime.schedulers import _parse as P
from mruntime.schedulers.base import Adapter, Answer, FoundJob, JobStatus, Scheduler
from mruntime.scripts.headers import header_value, job_name
from mshared import states as S

STATES = {"queued": S.PENDING, "done": S.FINISHED}


class FakeAdapter(Adapter):
    name = "fake server"
    unreachable = ("cannot reach the fake server",)
    benign_cancel = ("already ended",)
    forgotten = "job no longer known to the fake scheduler"

    def submit_command(self, script, workspace):
        return ["fsub", script], None

    def job_id(self, stdout):
        return P.leading_int(stdout)

    def query(self, jobs):
        res = self.call(["fstat", *(job.job_id for job in jobs)])
        if res.returncode != 0:
            raise self.failure(res, "cannot read job states")
        states, unknown = {}, set()
        for line in res.stdout.splitlines():
            jid, _, word = line.partition(" ")
            if word == "gone":
                unknown.add(jid)
            else:
                states[jid] = JobStatus(jid, STATES[word], exit_code=0 if word == "done" else None)
        return Answer(states, unknown)

    def cancel_command(self, ids):
        return ["fdel", *ids]

    def find(self, workspaces):
        res = self.call(["fls"])
        if res.returncode != 0:
            raise self.failure(res, "cannot list jobs")
        lines = (line.partition(" ") for line in res.stdout.splitlines())
        return [FoundJob(jid, ws) for jid, _, ws in lines if ws in workspaces]


def header(step, batch, shell):
    lines = [f"#!{shell}", f"#FAKE -N {job_name(step)}"]
    if batch.get("queue"):
        lines.append(f"#FAKE -q {header_value(batch['queue'], 'batch.queue', step)}")
    return "\\n".join(lines)


def parallelize(step, batch, procs, nodes):
    return f"frun -n {procs}"


UNIT = Scheduler(key="fake", extension="fake.sh", adapter=FakeAdapter, header=header,
                 parallelize=parallelize)
'''

# 4. its test data (tests/sched_contract/fake.py): a harness, with the client answered in-process
HARNESS = '''
from mruntime.schedulers.base import CommandResult

from sched_contract import BaseHarness


class Server:
    """The made-up scheduler: fsub, fstat, fdel, fls, answered from a dict."""

    def __init__(self):
        self.jobs, self.down = {}, False

    def __call__(self, argv, *, timeout, cwd=None, input_text=None, env=None):
        cmd, args = argv[0], argv[1:]
        if self.down:
            return CommandResult(1, "", f"{cmd}: cannot reach the fake server\\n", list(argv))
        if cmd == "fsub":
            if "-q nosuch" in open(args[0]).read():
                return CommandResult(1, "", "fsub: no queue 'nosuch'\\n", list(argv))
            jid = str(len(self.jobs) + 1)
            self.jobs[jid] = ["queued", cwd]
            return CommandResult(0, jid + "\\n", "", list(argv))
        if cmd == "fstat":
            return CommandResult(0, "".join(f"{j} {self.jobs[j][0] if j in self.jobs else 'gone'}\\n"
                                            for j in args), "", list(argv))
        if cmd == "fdel":
            ended = [j for j in args if self.jobs.get(j, ["done"])[0] == "done"]
            for j in args:
                if j not in ended:
                    self.jobs[j][0] = "done"
            return CommandResult(1 if ended else 0, "", "".join(f"fdel: job {j} already ended\\n" for j in ended),
                                 list(argv))
        return CommandResult(0, "".join(f"{j} {ws}\\n" for j, (_, ws) in self.jobs.items()), "", list(argv))


class Harness(BaseHarness):
    key = "fake"

    def __init__(self, tmp_path, monkeypatch):
        super().__init__(tmp_path, monkeypatch)
        self.server = Server()

    def adapter(self, **kwargs):
        return super().adapter(runner=self.server, **kwargs)

    def job(self, name, long=False, queue="debug"):
        return self.write(name, f"#!/bin/bash\\n#FAKE -q {queue}\\ntrue\\n")

    def end(self, adapter, ref):
        self.server.jobs[ref.job_id][0] = "done"

    def unknown_id(self):
        return "999"

    def refused_job(self, name):
        script, ws = self.job(name, queue="nosuch")
        return script, ws, "no queue 'nosuch'"

    def unreachable(self):
        self.server.down = True
'''

SPEC = """
description: {name: f, description: d}
batch: {type: fake, queue: q1}
study:
  - {name: a, description: d, run: {cmd: "$(LAUNCHER) app", procs: 2}}
  - {name: b, description: d, run: {cmd: "$(LAUNCHER) tidy", depends: [a]}}
"""


@pytest.fixture
def fake_scheduler(tmp_path, monkeypatch):
    modules, data = tmp_path / "modules", tmp_path / "data"
    modules.mkdir()
    data.mkdir()
    (modules / "fake_scheduler.py").write_text(textwrap.dedent(MODULE))
    (data / "fake.py").write_text(textwrap.dedent(HARNESS))
    monkeypatch.syspath_prepend(str(modules))                               # 1. its module
    monkeypatch.setitem(registry.SCHEDULERS, "fake", "fake_scheduler")      # 2. its registry line
    monkeypatch.setattr(sched_contract, "__path__", [*sched_contract.__path__, str(data)])  # 4.
    yield
    for name in ("fake_scheduler", "sched_contract.fake"):
        sys.modules.pop(name, None)


def test_mexpand_and_mrender_take_the_new_batch_type(fake_scheduler):
    validate_spec({"description": {"name": "n", "description": "d"}, "batch": {"type": "fake"},
                   "study": [{"name": "a", "description": "d", "run": {"cmd": "x"}}]}, "s.yaml")
    dag, _ = expand_text(SPEC)
    plan = core.render(dag, root="/study", settings={}, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    written = dict(plan.scripts)
    assert written["a/a.fake.sh"] == b"#!/bin/bash\n#FAKE -N a\n#FAKE -q q1\n\nfrun -n 2 app\n"
    assert written["b/b.fake.sh"] == b"#!/bin/bash\n\ntidy\n"        # not scheduled: runs locally
    assert scripts.script_names({"stem": "a", "restart": "r"}, "fake") == ("a.fake.sh", "a.restart.fake.sh")
    assert registry.get_adapter("fake").script_suffix == ".fake.sh" and "fake" in scripts.FORMATS


def test_the_contract_suite_finds_it_and_it_keeps_the_contract(fake_scheduler, tmp_path, monkeypatch):
    assert "fake" in [param.id for param in contract._params(registry.keys())]
    cases = [contract.test_submit_returns_an_id_and_find_finds_the_job,
             contract.test_status_of_several_jobs_is_one_query,
             contract.test_an_id_the_scheduler_does_not_know_is_never_finished,
             contract.test_cancel_of_an_ended_or_unknown_job_is_no_error,
             contract.test_an_unreachable_scheduler_is_unavailable_and_marks_nothing_failed,
             contract.test_a_refused_submission_keeps_the_schedulers_words]
    for number, case in enumerate(cases):
        harness = harness_class("fake")(tmp_path / str(number), monkeypatch)
        case(harness)
        harness.close()


def test_without_its_test_data_the_contract_suite_says_which_file_to_add(monkeypatch):
    monkeypatch.setitem(registry.SCHEDULERS, "nodata", "fake_scheduler")
    with pytest.raises(LookupError, match="add tests/sched_contract/nodata.py"):
        contract.test_every_scheduler_has_contract_test_data("nodata")
