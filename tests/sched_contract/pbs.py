"""PBS Professional / OpenPBS, replayed by tests/standins/pbs (qsub, qstat, qdel)."""

import time

from ._standin import StandinHarness


class Harness(StandinHarness):
    key = "pbs"
    queue = "workq"
    client = "qsub"
    unreachable_words = "cannot connect to server"
    submit_fail = "QSUB"
    header = ("#!/bin/bash\n#PBS -N {name}\n#PBS -q workq\n#PBS -l walltime=00:10:00\n"
              "cd \"$PBS_O_WORKDIR\"\n")

    @property
    def finished(self):
        return dict(job_state="F", substate=92, Exit_status=0, stime=time.time() - 5,
                    obittime=time.time())

    def unknown_id(self) -> str:
        return "999.pbssrv"

    def refused_job(self, name):
        script, ws = self.job(name, header=self.header.replace("-q workq", "-q nosuch"))
        return script, ws, "qsub: Unknown queue"
