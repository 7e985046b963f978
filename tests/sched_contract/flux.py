"""Flux, replayed by tests/standins/flux (flux batch|submit|jobs|cancel|job info)."""

import time

from ._standin import StandinHarness


class Harness(StandinHarness):
    key = "flux"
    queue = "batch"
    client = "flux"
    unreachable_words = "Unable to connect to Flux"
    submit_fail = "FLUX_BATCH"
    # Maestro 1.2.1's flux header (maestro-behaviour §5.5)
    header = ("#!/bin/bash\n#MAESTRO-INFO (flux adapter version) 0.49.0\n#MAESTRO-INFO (flux version) "
              "0.60.0\n#\n#flux: -N 1\n#flux: -n 2\n#flux: -t 300.0s\n#flux: --job-name=\"{name}\"\n"
              "#flux: --output={name}.{{{{id}}}}.out\n#flux: --error={name}.{{{{id}}}}.err\n")

    @property
    def finished(self):
        return dict(state="INACTIVE", result="COMPLETED", returncode=0, t_run=time.time() - 5,
                    t_inactive=time.time())

    def unknown_id(self) -> str:
        return "fNoSuchJob"

    def refused_job(self, name):
        script, ws = self.job(name, header=self.header + "#flux: -q pdebug\n")
        return script, ws, "'pdebug' is not a valid queue"
