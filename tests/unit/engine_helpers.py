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
