"""Small DAGs and states for engine tests (built with the real mexpand core and statefile)."""

import textwrap

from mexpand.core import expand
from mexpand.specload import load_yaml
from mruntime.engine.graph import Graph
from mshared.statefile import new_state
from datetime import datetime, timezone

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
AT = "2026-01-02T03:04:05Z"

CHAIN = """
description: {name: chain, description: d}
study:
  - {name: a, description: d, run: {cmd: echo a, restart: echo again}}
  - {name: b, description: d, run: {cmd: echo b, depends: [a]}}
  - {name: c, description: d, run: {cmd: echo c, depends: [b]}}
  - {name: other, description: d, run: {cmd: echo other}}
  - {name: gather, description: d, run: {cmd: echo g, depends: [c, other], after_failed_parents: true}}
"""


def build(text=CHAIN, **settings):
    text = textwrap.dedent(text)
    dag, _ = expand(load_yaml(text, "s"), source="s", spec_text=text, spec_path=None, specroot="/",
                    cwd="/", hashws=False)
    state = new_state({"name": "chain", "root": "/r", "dag_sha256": "0", "scheduler": "local"},
                      settings, [s["id"] for s in dag["steps"]], NOW)
    return dag, Graph.from_dag(dag), state


class FakeScheduler:
    """What the engine's tests share of a stand-in scheduler: jobs numbered 1, 2, ... in
    submission order (``jobs``: id -> stem), cancels recorded, nothing found after a crash, no
    capability.  A test's subclass says how jobs end (``status``)."""

    def __init__(self, batch=None, **kwargs):
        self.jobs: dict[str, str] = {}
        self.cancelled: list[str] = []

    def submit(self, script, workspace, stem):
        job_id = str(len(self.jobs) + 1)
        self.jobs[job_id] = stem
        return job_id

    def cancel(self, refs):
        self.cancelled += [r.stem for r in refs]

    def find(self, workspaces):
        return []

    def close(self):
        pass

    def offers(self, capability):
        return False


def render_study(tmp_path, spec: str, name: str = "study") -> str:
    """``spec`` (YAML text) expanded and rendered by the cores into ``tmp_path/name``."""
    from mrender import core as render_core
    from mrender import writer

    spec = textwrap.dedent(spec)
    dag, _ = expand(load_yaml(spec, "s"), source="s", spec_text=spec, spec_path=None, specroot="/",
                    cwd="/", hashws=False)
    root = str(tmp_path / name)
    return writer.carry_out(render_core.render(dag, root=root, settings={}, now=NOW), root, force=False, stamp="x")
