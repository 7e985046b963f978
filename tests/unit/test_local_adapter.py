"""The local adapter never takes a job that is just starting for one that died."""

import os
import time

from mshared.schedulers.base import JobRef
from mshared.schedulers.local import LocalAdapter


def test_a_job_polled_the_moment_it_starts_is_not_failed(tmp_path):
    adapter, refs, wrong = LocalAdapter(), [], 0
    for i in range(80):
        ws = tmp_path / f"w{i}"
        ws.mkdir()
        script = ws / "s.sh"
        script.write_text("#!/bin/bash\necho x > out.txt\n")
        os.chmod(script, 0o755)
        refs.append(JobRef(adapter.submit(str(script), str(ws), "s"), str(ws), "s"))
        for ref in refs[-3:]:     # poll at once, before the runner has written anything
            wrong += adapter.status([ref])[ref.job_id].state == "FAILED"
    assert wrong == 0
    for _ in range(200):
        states = {s.state for s in LocalAdapter().status(refs).values()}   # a later process's view
        if states == {"FINISHED"}:
            break
        time.sleep(0.05)
    assert states == {"FINISHED"}
