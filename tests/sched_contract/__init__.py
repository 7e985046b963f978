"""Test data for the scheduler contract suite (tests/unit/test_scheduler_contract.py).

The suite runs every scheduler in the registry through the same cases; what it needs to know of
one scheduler is its *harness*, the class ``Harness`` in ``sched_contract/<key>.py``.  A new
scheduler is picked up once its harness is added (docs/schedulers.md, "Adding a scheduler").

A harness is built per test with ``(tmp_path, monkeypatch)`` and offers:

  marks              pytest marks for every case (the real SLURM's: ``pytest.mark.slurm``)
  forgotten_state    what ``status`` says of an id the scheduler does not know (UNKNOWN; FAILED
                     for local, whose jobs always leave an exit record unless they were killed)
  client             the command that submits, or None when there is none (local)
  unreachable_words  words the error must contain when the scheduler is down (None: not checked)
  faults             stand-in failure modes it can replay ("down", "garbage", "hang")
  adapter(**kw)      a fresh adapter (``registry.get_adapter``)
  job(name, long=False) -> (script, workspace)
                     a job the scheduler accepts: ``long`` stays in the queue or runs until
                     cancelled, otherwise it ends at once
  end(adapter, ref)  returns once the job (a JobRef) has ended
  unknown_id()       an id the scheduler does not know
  refused_job(name) -> (script, workspace, words): a job it refuses, and words of its refusal
  unreachable()      from now on the scheduler cannot be reached
  fail(mode, command=None)   replay a failure (all commands, or the submit command)
  close()            cancel what is left, let helpers go
"""

from __future__ import annotations

import importlib

from mshared import states as S


def harness_class(key: str):
    """The Harness of scheduler ``key``; LookupError names the file to add."""
    try:
        module = importlib.import_module(f"{__name__}.{key}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{key}":
            raise
        raise LookupError(f"scheduler '{key}' has no contract test data: add tests/sched_contract/{key}.py "
                          "with a Harness (see tests/sched_contract/__init__.py)") from None
    return module.Harness


class BaseHarness:
    """Defaults shared by the harnesses."""

    key = ""
    marks: tuple = ()
    forgotten_state = S.UNKNOWN
    client: str | None = None
    unreachable_words: str | None = None
    faults: tuple[str, ...] = ()

    def __init__(self, tmp_path, monkeypatch):
        self.tmp_path, self.monkeypatch = tmp_path, monkeypatch
        self.adapters: list = []

    def adapter(self, **kwargs):
        from mruntime.schedulers import registry
        adapter = registry.get_adapter(self.key, {}, **kwargs)
        self.adapters.append(adapter)
        return adapter

    def workspace(self, name: str):
        path = self.tmp_path / "study" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write(self, name: str, text: str) -> tuple[str, str]:
        """A script ``<name><suffix>`` with ``text`` in workspace ``name``: (script, workspace)."""
        from mruntime.schedulers import registry
        ws = self.workspace(name)
        path = ws / f"{name}{registry.unit(self.key).script_suffix}"
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755)
        return str(path), str(ws)

    def fail(self, mode: str, command: str | None = None) -> None:
        raise NotImplementedError(f"{self.key}: no failure replay")

    def close(self) -> None:
        for adapter in self.adapters:
            adapter.close()
