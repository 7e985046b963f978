# Runs local steps detached from the tools and records how each ended (POSIX sh: dash starts and
# forks faster than bash, and every fork or file made here is paid once per step).
#
#   sh local_runner.sh SCRIPT WORKSPACE STEM STARTED   one job; the caller starts it detached
#   sh local_runner.sh --serve                         a launcher: one job per input line
#
# --serve reads "WORKSPACE<TAB>STEM<TAB>STARTED<TAB>SCRIPT" lines (SCRIPT empty: ./STEM.sh, the
# usual case, so the line is shorter: sh reads it a byte at a time) and answers each with the job's
# pid ("-" if the workspace cannot be entered): a fork of this small shell costs a fraction of a
# new process, and the caller waits for no exec.  It ends at the end of its input; the jobs run on.
#
# The job id is the pid of the process that runs the job.  Output goes to <stem>.<pid>.out/.err as
# in Maestro.  When the script ends: <stem>.<pid>.exit.json, one small write of a whole JSON
# document (a reader treats a record that does not parse yet as not written) with the exit code,
# the signal and the start (STARTED: hundredths of a second since the epoch, from the caller's
# clock; sh has none without a fork).  The record's modification time is the end: reading a clock
# here (/proc/uptime, a byte at a time) and turning it into a date cost more than the rest of the
# runner together.

run() {  # SCRIPT STEM STARTED, in the workspace
    # this process's pid: in a forked job $$ is the launcher's.  The one task of this process
    # names it (a read of /proc/self/stat costs far more: sh reads it a byte at a time; a
    # cd into /proc/self would leave the workspace for a moment, when a reader asking whether
    # the job is alive would find it elsewhere).  Without /proc there is no launcher: $$ is it.
    for pid in /proc/self/task/*; do pid=${pid##*/}; done
    case $pid in *[!0-9]* | '') pid=$$ ;; esac
    # the runner's own files are never world-writable (an exit record anyone could write would
    # let anyone mark a step finished); the job itself runs with the user's umask
    [ -n "$MAESTRO_RUNNER_UMASK" ] && umask "$MAESTRO_RUNNER_UMASK"
    exec >"$2.$pid.out" 2>"$2.$pid.err" </dev/null
    [ -n "$MAESTRO_JOB_UMASK" ] && umask "$MAESTRO_JOB_UMASK"
    "$1"
    rc=$?
    [ -n "$MAESTRO_RUNNER_UMASK" ] && umask "$MAESTRO_RUNNER_UMASK"
    signal=0
    if [ "$rc" -gt 128 ]; then signal=$((rc - 128)); fi
    seconds=${3%??}
    printf '{"pid": %d, "exit_code": %d, "signal": %d, "started": %d.%s}\n' \
        "$pid" "$rc" "$signal" "$seconds" "${3#"$seconds"}" >"$2.$pid.exit.json"
}

if [ "$1" != --serve ]; then
    cd "$2" || exit 97
    run "$1" "$3" "$4"
    exit
fi
while IFS='	' read -r workspace stem started script; do
    if cd "$workspace" 2>/dev/null; then
        run "${script:-./$stem.sh}" "$stem" "$started" &
        echo "$!"
    else
        echo -
    fi
done
