#!/usr/bin/env python3
"""Run one command (or a pipeline) and measure its wall time and peak memory.

Peak memory: each process of the pipeline runs under GNU `/usr/bin/time -f %M -o FILE`, which
reports the peak resident set (KiB) of exactly that process.  Without /usr/bin/time we fall back to
os.wait4's ru_maxrss; that figure is never below the harness's own size, because Linux counts the
memory a child shared with its parent between fork and exec (so small commands read ~15 MB high).
(RUSAGE_CHILDREN deltas cannot give a per-command peak at all.)
Wall time is time.perf_counter() from the first spawn to the last exit: sub-millisecond, where
/usr/bin/time's %e has 10 ms steps, too coarse for start-up times of ~0.1 s.  /usr/bin/time adds
one small fork+exec (about a millisecond) to each process.

As a command, for checking by hand:
    python bench/_measure.py [--cwd DIR] -- CMD ARGS... [--pipe CMD ARGS...]
prints "<seconds> <peak KiB>" on stderr, like /usr/bin/time -f '%e %M'.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass


@dataclass
class Measurement:
    wall_s: float
    peak_kb: int               # largest ru_maxrss of any one process of the pipeline
    peak_sum_kb: int           # sum over the pipeline's processes (an upper bound of the joint peak)
    cpu_s: float               # user + system time of all the processes
    returncodes: list[int]
    peak_method: str = "time"  # "time" (/usr/bin/time %M) or "wait4" (inflated by the harness, see above)
    stderr: str = ""           # last lines of stderr when a process failed
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and all(rc == 0 for rc in self.returncodes)

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


@dataclass
class _Stage:
    proc: subprocess.Popen
    err: object              # an anonymous temporary file holding the stage's stderr
    peak_file: str | None    # where /usr/bin/time writes the peak
    rusage: object = None


TIME = "/usr/bin/time"
USE_TIME = os.access(TIME, os.X_OK)


def measure(stages: list[list[str]], *, cwd: str | None = None, env: dict | None = None,
            stdout: str | int | None = None, timeout: float | None = None) -> Measurement:
    """Run ``stages`` as a pipeline (stage i's stdout feeds stage i+1's stdin).

    The last stage writes to ``stdout`` (a file path or a descriptor) or /dev/null; stdin of the first is
    /dev/null.  Each stage gets its own session, so a timeout kills exactly our processes.
    """
    if not stages:
        raise ValueError("nothing to run")
    out_handle = open(os.devnull if stdout is None else stdout, "wb", closefd=not isinstance(stdout, int))
    running: list[_Stage] = []
    previous = subprocess.DEVNULL
    start = time.perf_counter()
    try:
        for index, argv in enumerate(stages):
            last = index == len(stages) - 1
            err = tempfile.TemporaryFile()
            peak_file = None
            if USE_TIME:
                fd, peak_file = tempfile.mkstemp(prefix="bench-peak-")
                os.close(fd)
                argv = [TIME, "-f", "%M", "-o", peak_file, "--", *argv]
            try:
                proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=previous,
                                        stdout=out_handle if last else subprocess.PIPE,
                                        stderr=err, start_new_session=True)
            except BaseException:
                err.close()
                _unlink(peak_file)
                raise
            if previous is not subprocess.DEVNULL:
                previous.close()  # the child holds its own copy; ours would keep the pipe open
            previous = proc.stdout
            running.append(_Stage(proc, err, peak_file))
    except BaseException:
        for stage in running:  # a later stage could not start: stop and reap the earlier ones
            _kill(stage.proc.pid)
            stage.proc.wait()
            stage.err.close()
            _unlink(stage.peak_file)
        raise
    finally:
        out_handle.close()

    timed_out = threading.Event()

    def kill_all():
        timed_out.set()
        for stage in running:
            _kill(stage.proc.pid)

    timer = threading.Timer(timeout, kill_all) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        for stage in running:
            _pid, status, stage.rusage = os.wait4(stage.proc.pid, 0)
            stage.proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: tell Popen
    finally:
        if timer:
            timer.cancel()
    wall = time.perf_counter() - start

    codes, tails, peaks = [], [], []
    for stage in running:
        peaks.append(_read_peak(stage))
        codes.append(stage.proc.returncode)
        stage.err.seek(0)
        text = stage.err.read().decode("utf-8", "replace")
        stage.err.close()
        if stage.proc.returncode != 0:
            name = stage.proc.args[6] if stage.peak_file else stage.proc.args[0]
            tails.append(f"{name} exited {stage.proc.returncode}: "
                         + "\n".join(text.strip().splitlines()[-5:]))
    return Measurement(
        wall_s=wall,
        peak_kb=max(peak for peak, _ in peaks),
        peak_sum_kb=sum(peak for peak, _ in peaks),
        cpu_s=sum(s.rusage.ru_utime + s.rusage.ru_stime for s in running),
        returncodes=codes,
        stderr="\n".join(tails),
        timed_out=timed_out.is_set(),
        peak_method="wait4" if any(method == "wait4" for _, method in peaks) else "time",
    )


def _read_peak(stage: _Stage) -> tuple[int, str]:
    """(peak KiB, method): /usr/bin/time's figure, or ru_maxrss when it wrote none (killed)."""
    if stage.peak_file:
        try:
            with open(stage.peak_file, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().split()
            return int(lines[-1]), "time"
        except (OSError, ValueError, IndexError):
            pass
        finally:
            _unlink(stage.peak_file)
    return stage.rusage.ru_maxrss, "wait4"


def _unlink(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _kill(pid: int) -> None:
    """Kill the session we started for ``pid`` (its process group), and nothing else."""
    try:
        os.killpg(pid, 9)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cwd = None
    if argv[:1] == ["--cwd"]:
        cwd, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    stages, current = [], []
    for arg in argv:
        if arg == "--pipe":
            stages.append(current)
            current = []
        else:
            current.append(arg)
    stages.append(current)
    if not all(stages):
        sys.stderr.write("usage: _measure.py [--cwd DIR] -- CMD ARGS... [--pipe CMD ARGS...]\n")
        return 2
    sys.stdout.flush()
    result = measure(stages, cwd=cwd, stdout=sys.stdout.fileno())
    sys.stderr.write(f"{result.wall_s:.3f} {result.peak_kb}\n")
    if result.stderr:
        sys.stderr.write(result.stderr + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
