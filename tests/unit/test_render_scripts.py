"""Step scripts per scheduler against golden files in tests/golden/scripts/<case>/.

Each case expands a spec (a Maestro sample, or ALL_KEYS below) with mexpand's core, renders it to
the fixed root /study and compares every script, byte for byte.  `pytest --update-goldens`
rewrites the goldens; review the diff before committing it.  The SLURM and LSF goldens of the
Maestro samples equal Maestro 1.2.1's dry-run scripts except for the %j in SLURM's output names.
"""

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mexpand.core import expand
from mexpand.specload import load_yaml
from mrender import core
from mruntime.scripts import FORMATS

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "corpus" / "maestro-samples"
GOLDEN = REPO / "tests" / "golden" / "scripts"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

ALL_KEYS = """
description:
  name: all_keys
  description: Every resource key, a restart, a local step and launcher forms.
batch:
  type: slurm
  host: quartz
  bank: baasic
  queue: pbatch
  reservation: myres
  allocation_args: {setattr: {system.bank: x}, setopt: {fastload: null}, bogus: {a: 1}}
  launcher_args: {o: {cpu-affinity: per-task}, setattr: {foo: true}}
  launcher: mpiexec -n {procs} -ppn {ppn} --cpus-per-proc {cores_per_task}
study:
  - name: full
    description: |
      all the keys
      on "two" lines
    run:
      cmd: |
        $(LAUNCHER) app1 $(WORKSPACE)
        $(LAUNCHER)[1n, 4p] app2
        $(LAUNCHER)[1,4] app3
      restart: |
        $(LAUNCHER)[2n, 8p] again
      nodes: 2
      procs: 8
      cores per task: 2
      gpus: 1
      walltime: "01:30:45"
      exclusive: true
      qos: high
      bind: packed:2
      tasks per rs: 2
      rs per node: 2
      cpus per rs: 4
  - name: gather
    description: runs where the conductor runs
    run:
      cmd: ls $(full.workspace) $(LAUNCHER)[1p]
      restart: echo again
      depends: [full]
  - name: tasks-only
    description: procs without nodes
    run:
      cmd: $(LAUNCHER) ./a.out
      procs: 3
      walltime: 90
"""

CASES = {
    "lulesh_slurm": ("lulesh/lulesh_sample1_unix_slurm.yaml", None),
    "lulesh_lsf": ("lulesh/lulesh_sample1_unix_lsf.yaml", None),
    "lulesh_flux": ("lulesh/lulesh_sample1_unix_flux.yaml", None),
    "hello_slurm": ("hello_world/hello_bye_parameterized_slurm.yaml", None),
    **{f"launcher_tokens_{k}": ("documentation/launcher_tokens.yaml", k) for k in FORMATS},
    **{f"all_keys_{k}": (None, k) for k in FORMATS},
}


def render_case(case: str) -> dict[str, bytes]:
    sample, kind = CASES[case]
    text = (SAMPLES / sample).read_text() if sample else ALL_KEYS
    spec = load_yaml(text, "spec.yaml")
    if kind:
        spec["batch"]["type"] = kind
    name = os.path.basename(sample) if sample else "all_keys.yaml"
    dag, _ = expand(spec, source=name, spec_text=text, spec_path=f"/specs/{name}", specroot="/specs",
                    cwd="/work")
    plan = core.render(dag, root="/study", settings={}, now=NOW)
    return dict(plan.scripts)


def read_tree(base: Path) -> dict[str, bytes]:
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_scripts_match_goldens(case, update_goldens):
    got = render_case(case)
    base = GOLDEN / case
    if update_goldens or os.environ.get("UPDATE_GOLDENS") == "1":
        shutil.rmtree(base, ignore_errors=True)
        for rel, data in got.items():
            (base / rel).parent.mkdir(parents=True, exist_ok=True)
            (base / rel).write_bytes(data)
    assert base.is_dir(), f"no goldens for {case}: run pytest --update-goldens"
    want = read_tree(base)
    assert sorted(got) == sorted(want)
    for rel in want:
        assert got[rel].decode() == want[rel].decode(), rel


def test_every_scheduler_has_goldens():
    assert {case.rsplit("_", 1)[1] for case in CASES if case.startswith("all_keys_")} == set(FORMATS)
