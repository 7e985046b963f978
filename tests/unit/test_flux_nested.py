"""A flux step with `nested: false` is marked in its script, and the flux adapter reads the mark."""

from mruntime.schedulers.flux import read_directives
from mruntime.scripts import step_scripts

from expand_helpers import expand_text

SPEC = """
description: {name: fl, description: d}
batch: {type: flux}
study:
  - {name: a, description: d, run: {cmd: "$(LAUNCHER) app", procs: 2, nested: false}}
  - {name: b, description: d, run: {cmd: "$(LAUNCHER) app", procs: 2}}
"""


def test_nested_false_goes_to_flux_submit_and_the_default_to_flux_batch():
    dag, _ = expand_text(SPEC)
    scripts = {s["id"]: step_scripts(s, dag["study"]["batch"], s["cmd"], None)[0][1] for s in dag["steps"]}
    assert "#MAESTRO-INFO (nested) False" in scripts["a"]
    assert "MAESTRO-INFO" not in scripts["b"]
    assert read_directives(scripts["a"])[1] is False
    assert read_directives(scripts["b"])[1] is True
