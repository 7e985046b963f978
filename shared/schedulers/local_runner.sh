# Runs one local step, detached from whoever started it, and records how it ended (POSIX sh:
# dash starts faster than bash, and every fork or file made here is paid once per step).
# usage: sh local_runner.sh SCRIPT WORKSPACE STEM STARTED
# STARTED is when the runner was started, in hundredths of a second since the epoch, from the
# starting process's clock (sh has no clock of its own without a fork).  The job id is this
# runner's pid.  Output goes to <stem>.<pid>.out/.err as in Maestro.  When the script ends:
# <stem>.<pid>.exit.json, one small write of a whole JSON document (a reader treats a record that
# does not parse yet as not written) with the exit code, the signal, and the start and end times
# (UTC ISO-8601; the end is STARTED plus the run time, measured on /proc/uptime, so a clock step
# during the run does not bend it).  While it runs, the job is known by its command line.
cd "$2" || exit 97
exec >"$3.$$.out" 2>"$3.$$.err" </dev/null
record="$3.$$.exit.json" started=$4
read -r up _ < /proc/uptime
"$1"
rc=$?
begin=$up
read -r up _ < /proc/uptime
signal=0
if [ "$rc" -gt 128 ]; then signal=$((rc - 128)); fi

centi() {  # /proc/uptime's "1234.56" -> 123456 (the 1 in front keeps "08" from reading as octal)
    c=$((${1%.*} * 100 + 1${1#*.} - 100))
}
civil() {  # $1 seconds since the epoch -> Y M D h m s (UTC), shell arithmetic only
    z=$(($1 / 86400 + 719468)); t=$(($1 % 86400))
    era=$((z / 146097)); doe=$((z - era * 146097))
    yoe=$(((doe - doe / 1460 + doe / 36524 - doe / 146096) / 365))
    doy=$((doe - (365 * yoe + yoe / 4 - yoe / 100))); mp=$(((5 * doy + 2) / 153))
    D=$((doy - (153 * mp + 2) / 5 + 1)); M=$((mp < 10 ? mp + 3 : mp - 9)); Y=$((yoe + era * 400 + (M <= 2)))
    h=$((t / 3600)); m=$((t / 60 % 60)); s=$((t % 60))
}
centi "$up"; ended=$c
centi "$begin"; ended=$(((started + ended - c) / 100))
civil $((started / 100))
set -- "$Y" "$M" "$D" "$h" "$m" "$s"
civil "$ended"
printf '{"pid": %d, "exit_code": %d, "signal": %d, "started": "%04d-%02d-%02dT%02d:%02d:%02dZ", "ended": "%04d-%02d-%02dT%02d:%02d:%02dZ"}\n' \
    "$$" "$rc" "$signal" "$@" "$Y" "$M" "$D" "$h" "$m" "$s" >"$record"
