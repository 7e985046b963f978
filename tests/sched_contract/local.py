"""local: the real runner (runtime/schedulers/local_runner.sh); jobs are processes of this machine."""

import os
import time

import pytest

from mruntime.schedulers.local import LocalAdapter
from mruntime.schedulers.base import JobRef
from mshared import states as S

from . import BaseHarness


class Harness(BaseHarness):
    key = "local"
    # a local job that left no exit record was killed (or its machine restarted): FAILED, which
    # is also what an id that never ran here gets
    forgotten_state = S.FAILED

    def job(self, name: str, long: bool = False):
        return self.write(name, "#!/bin/bash\n" + ("sleep 60\n" if long else "true\n"))

    def end(self, adapter, ref: JobRef) -> None:
        deadline = time.monotonic() + 20
        while adapter.status([ref])[ref.job_id].state == S.RUNNING:
            assert time.monotonic() < deadline, f"local job {ref.job_id} did not end"
            time.sleep(0.02)

    def unknown_id(self) -> str:
        return "999999999"        # above any pid_max: never a process, and no record

    def refused_job(self, name: str):
        if not hasattr(os, "pidfd_open"):
            pytest.skip("without pidfds the local runner is spawned directly and cannot refuse")
        script, _ = self.write(name, "#!/bin/bash\ntrue\n")
        return script, str(self.tmp_path / "no-such-workspace"), "cannot enter the workspace"

    def unreachable(self) -> None:
        pytest.skip("local: jobs are processes of this machine, there is no scheduler to lose")

    def close(self) -> None:
        super().close()
        study = self.tmp_path / "study"
        workspaces = [str(p) for p in study.iterdir()] if study.is_dir() else []
        adapter = LocalAdapter()
        adapter.cancel([JobRef(f.job_id, f.workspace, f.name) for f in adapter.find(workspaces)])
