"""LSF, replayed by tests/standins/lsf (bsub, bjobs, bkill)."""

import time

from ._standin import StandinHarness


class Harness(StandinHarness):
    key = "lsf"
    queue = "normal"
    client = "bsub"
    unreachable_words = "LSF is down"
    submit_fail = "BSUB"
    header = "#!/bin/bash\n#BSUB -nnodes 1\n#BSUB -q normal\n#BSUB -J {name}\n#BSUB -o {name}.%J.out\n"

    @property
    def finished(self):
        return dict(stat="DONE", exit_code=None, start_time=time.time() - 5, finish_time=time.time())

    def unknown_id(self) -> str:
        return "5000"

    def refused_job(self, name):
        script, ws = self.job(name, header=self.header.replace("-q normal", "-q nosuch"))
        return script, ws, "nosuch: No such queue. Job not submitted."
