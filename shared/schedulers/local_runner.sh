#!/bin/bash
# Runs one local step, detached from whoever started it, and records how it ended.
# usage: local_runner.sh SCRIPT WORKSPACE STEM
# The job id is this runner's pid.  Output goes to <stem>.<pid>.out/.err as in Maestro; the
# record <stem>.<pid>.exit.json is written to a temp name and renamed, so a reader sees all or nothing.
cd "$2" || exit 97
exec >"$3.$$.out" 2>"$3.$$.err" </dev/null
TZ=UTC printf -v started '%(%Y-%m-%dT%H:%M:%SZ)T' -1
"$1"
rc=$?
TZ=UTC printf -v ended '%(%Y-%m-%dT%H:%M:%SZ)T' -1
signal=0
if [ "$rc" -gt 128 ]; then signal=$((rc - 128)); fi
printf '{"pid": %d, "exit_code": %d, "signal": %d, "started": "%s", "ended": "%s"}\n' \
    "$$" "$rc" "$signal" "$started" "$ended" >"$3.$$.exit.tmp"
mv -f "$3.$$.exit.tmp" "$3.$$.exit.json"
