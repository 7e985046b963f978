"""SLURM: the real local SLURM (.ci/slurm/start-slurm.sh); the cases are marked `slurm`."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from mruntime.schedulers.base import JobRef
from mshared import states as S

from . import BaseHarness


class Harness(BaseHarness):
    key = "slurm"
    marks = (pytest.mark.slurm,)
    client = "sbatch"
    # unreachable: the clients retry for seconds before they say so (bench/README.md), so the adapter
    # gets a short timeout and the case sees a hang; tests/slurm checks the words once
    unreachable_words = None

    def __init__(self, tmp_path, monkeypatch):
        super().__init__(tmp_path, monkeypatch)
        self.env = dict(os.environ)       # for close(), whatever a case did to SLURM_CONF
        self.timeout = 30.0

    def adapter(self, **kwargs):
        return super().adapter(**{"timeout": self.timeout, **kwargs})

    def job(self, name: str, long: bool = False, header: str = ""):
        hold = "#SBATCH --hold\n" if long else ""     # a long job waits in the queue until cancelled
        return self.write(name, f'#!/bin/bash\n#SBATCH --job-name="{name}"\n#SBATCH --output="{name}.%j.out"\n'
                                f"{hold}{header}\ntrue\n")

    def end(self, adapter, ref: JobRef) -> None:
        deadline = time.monotonic() + 90
        while adapter.status([ref])[ref.job_id].state not in S.TERMINAL:
            assert time.monotonic() < deadline, f"SLURM job {ref.job_id} did not end"
            time.sleep(0.3)

    def unknown_id(self) -> str:
        return "67000000"         # below SLURM's largest job id, far above this cluster's

    def refused_job(self, name: str):
        script, ws = self.job(name, header="#SBATCH --partition=nosuchpart\n")
        return script, ws, "Invalid partition name specified"

    def unreachable(self) -> None:
        """A client configured for a port nobody listens on: what a dead slurmctld looks like."""
        conf = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")).read_text(encoding="utf-8")
        lines = [ln for ln in conf.splitlines() if not ln.startswith("SlurmctldPort")]
        bad = self.tmp_path / "unreachable-slurm.conf"
        bad.write_text("\n".join(lines + ["SlurmctldPort=1"]) + "\n", encoding="utf-8")
        self.monkeypatch.setenv("SLURM_CONF", str(bad))
        self.timeout = 2.0

    def close(self) -> None:
        super().close()
        mine = str(self.tmp_path)
        listed = subprocess.run(["squeue", "-h", "-o", "%i|%Z"], capture_output=True, text=True,
                                env=self.env, timeout=60)
        ids = [line.split("|", 1)[0] for line in listed.stdout.splitlines()
               if line.partition("|")[2].startswith(mine)]
        if ids:
            subprocess.run(["scancel", *ids], env=self.env, timeout=60, check=False)
