# Runs local steps detached from the tools and records how each ended (POSIX sh: dash starts and
# forks faster than bash, and every fork or file made here is paid once per step).
#
#   sh local_runner.sh SCRIPT WORKSPACE STEM STARTED   one job; the caller starts it detached
#   sh local_runner.sh --serve                         a launcher: one job per input line
#
# --serve reads "SCRIPT<TAB>WORKSPACE<TAB>STEM<TAB>STARTED" lines and answers each with the job's
# pid ("-" if the workspace cannot be entered): a fork of this small shell costs a fraction of a
# new process, and the caller waits for no exec.  It ends at the end of its input; the jobs run on.
#
# The job id is the pid of the process that runs the job.  Output goes to <stem>.<pid>.out/.err as
# in Maestro.  When the script ends: <stem>.<pid>.exit.json, one small write of a whole JSON
# document (a reader treats a record that does not parse yet as not written) with the exit code,
# the signal and the start and end times (UTC ISO-8601).  STARTED is the start in hundredths of a
# second since the epoch, from the caller's clock (sh has none without a fork); the end is STARTED
# plus the run time measured on /proc/uptime, so a clock step during the run does not bend it.

centi() {  # /proc/uptime's "1234.56" -> c=123456 (the 1 in front keeps "08" from reading as octal)
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

run() {  # SCRIPT STEM STARTED, in the workspace
    # this process's pid: in a forked job $$ is the launcher's.  /proc/self resolved names it (a
    # read of /proc/self/stat costs ten times more: sh reads it a byte at a time).  Without
    # /proc there is no launcher, and $$ is it.
    pid=$$
    if cd -P /proc/self 2>/dev/null; then
        pid=${PWD##*/}
        cd "$OLDPWD" || exit 97
    fi
    exec >"$2.$pid.out" 2>"$2.$pid.err" </dev/null
    read -r up _ < /proc/uptime 2>/dev/null || up=0.00   # without it the end reads as the start
    "$1"
    rc=$?
    begin=$up
    read -r up _ < /proc/uptime 2>/dev/null || up=0.00
    signal=0
    if [ "$rc" -gt 128 ]; then signal=$((rc - 128)); fi
    record="$2.$pid.exit.json" started=$3
    centi "$up"; ended=$c
    centi "$begin"; ended=$(((started + ended - c) / 100))
    civil $((started / 100))
    set -- "$Y" "$M" "$D" "$h" "$m" "$s"
    civil "$ended"
    printf '{"pid": %d, "exit_code": %d, "signal": %d, "started": "%04d-%02d-%02dT%02d:%02d:%02dZ", "ended": "%04d-%02d-%02dT%02d:%02d:%02dZ"}\n' \
        "$pid" "$rc" "$signal" "$@" "$Y" "$M" "$D" "$h" "$m" "$s" >"$record"
}

if [ "$1" != --serve ]; then
    cd "$2" || exit 97
    run "$1" "$3" "$4"
    exit
fi
while IFS='	' read -r script workspace stem started; do
    if cd "$workspace" 2>/dev/null; then
        run "$script" "$stem" "$started" &
        echo "$!"
    else
        echo -
    fi
done
