#!/bin/bash
# Runs one local step, detached from whoever started it, and records how it ended.
# usage: local_runner.sh SCRIPT WORKSPACE STEM
# The job id is this runner's pid.  Output goes to <stem>.<pid>.out/.err as in Maestro.  Records:
# <stem>.<pid>.job.json (pid and process start time, so a reused pid is never taken for the job)
# and, when the script ends, <stem>.<pid>.exit.json.  Each record is one small write of a whole
# JSON document; readers treat a record that does not parse yet as not written.  Builtins only:
# this runs once per step, and every fork here is paid by every step.
cd "$2" || exit 97
exec >"$3.$$.out" 2>"$3.$$.err" </dev/null
read -r -a stat < "/proc/$$/stat"
printf '{"pid": %d, "start_ticks": %s}\n' "$$" "${stat[21]}" >"$3.$$.job.json"
TZ=UTC printf -v started '%(%Y-%m-%dT%H:%M:%SZ)T' -1
"$1"
rc=$?
TZ=UTC printf -v ended '%(%Y-%m-%dT%H:%M:%SZ)T' -1
signal=0
if [ "$rc" -gt 128 ]; then signal=$((rc - 128)); fi
printf '{"pid": %d, "exit_code": %d, "signal": %d, "started": "%s", "ended": "%s"}\n' \
    "$$" "$rc" "$signal" "$started" "$ended" >"$3.$$.exit.json"
