"""The benchmark harness: what a workload is and how it is measured (figures.py: what a row shows).

A workload is a function ``f(ctx) -> list[Case]`` registered with ``@workload("name")`` in
bench/workloads.py.  A Case is one row of the table (a workload at one P): up to three Sides
(ours, Maestro, the floor), each a command to run in a fresh temporary directory, with its number
of repeats, and optional Targets checked against the medians.  Sides with the same ``key`` are
measured once and shared (Maestro's dry run is the baseline of several rows).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from _measure import Measurement, measure

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV = ROOT / ".venv"
PARITY_VENV = ROOT / ".parity-venv"
BENCH_VENV = ROOT / ".bench-venv"
MAKE_PARITY_VENV = ROOT / "tests" / "parity" / "make_venv.sh"
MAESTRO_VERSION = "1.2.1"

SIDES = ("ours", "maestro", "floor")


# ---------------------------------------------------------------------------------------------
# What a workload declares

@dataclass
class Run:
    """One command line (or pipeline) to time.  cwd None means the repeat's fresh directory."""
    stages: list[list[str]]
    cwd: Path | None = None
    stdout: str | None = None          # a file for the last stage's output; None: /dev/null
    timeout: float = 900.0
    env: dict | None = None            # variables added to (or, value None, removed from) the environment


@dataclass
class Side:
    """A command measured for a case.  ``command(dir)`` builds the Run for one repeat in ``dir``."""
    key: str
    command: Callable[[Path], Run]
    repeats: int
    needs_maestro: bool = False
    warmup: bool = False               # one untimed run first (start-up figures)
    writes: bool = False               # writes many files: `sync` before each run (see measure_side)
    describe: str = ""                 # the command as the README and JSON show it
    # Untimed, after each run (also a failed one) and before its directory is removed: clean up
    # (cancel jobs) and/or count something.  Returns {name: number} figures of the run (e.g.
    # {"calls": 1}); a row shows the largest over the runs as "<side>_<name>" (Target metric).
    after: Callable[[Path], dict | None] | None = None


@dataclass
class Target:
    """A limit on a figure of the row: metric is 'ours_s', 'ours_mb', 'ours/floor', 'ours/maestro'
    or a figure a Side's ``after`` returned ('ours_calls').  PASS when ``value OP limit``."""
    label: str
    metric: str
    limit: float
    op: str = "<"                      # "<", "<=" or "=="


@dataclass
class Case:
    workload: str
    p: int | None
    ours: Side | None
    maestro: Side | None = None
    floor: Side | None = None
    targets: list[Target] = field(default_factory=list)
    # Seconds the whole case (every side, every repeat, set-up included) takes on a quiet 2-core
    # machine: the cases before it stop repeating early enough to leave it that much of --budget.
    reserve: float = 0.0
    # Seconds the case adds to the default --budget (a case that mostly waits on a real scheduler,
    # e.g. the bundle rows): the other rows keep the share they had without it.
    extra_budget: float = 0.0
    # The row's times are each side's best (shortest) run instead of the median: for rows whose
    # sides each run many processes at once on a shared 2-core machine, where one slow moment
    # spoils a run (bench/README.md says which rows).
    best: bool = False

    @property
    def label(self) -> str:
        return self.workload if self.p is None else f"{self.workload} P={self.p:,}"

    def sides(self):
        return [(name, getattr(self, name)) for name in SIDES if getattr(self, name) is not None]


@dataclass
class Context:
    """What workloads may ask about: mode, where to work, where the commands are."""
    quick: bool
    work: Path
    deadline: float | None = None      # time.perf_counter() value after which repeats are cut short
    notes: list[str] = field(default_factory=list)      # "skipped: ..." lines for the report
    _specs: dict = field(default_factory=dict)
    _available: dict = field(default_factory=dict)

    def repeats(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def spec(self, p: int, **shape) -> Path:
        """The benchmark study for P (bench/gen_study.py), written once per run.  ``shape``:
        gen_study's ``slurm``, ``flat`` and ``cmd`` (a flat study of P independent steps), ``sleep``."""
        key = (p, tuple(sorted(shape.items())))
        if key not in self._specs:
            from gen_study import write_study

            name = "bench" + ("_flat" if shape.get("flat") else "") + ("_slurm" if shape.get("slurm") else "")
            if shape.get("cmd"):
                name += f"_cmd{len(self._specs)}"
            if shape.get("sleep"):
                name += f"_sleep{shape['sleep']:g}"
            path = self.work / "specs" / f"{name}_p{p}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_study(p, str(path), **shape)
            self._specs[key] = path
        return self._specs[key]

    def python(self) -> str:
        return str(VENV / "bin" / "python")

    def ours(self, command: str) -> str:
        return str(VENV / "bin" / command)

    def maestro(self) -> str:
        return str(PARITY_VENV / "bin" / "maestro")

    def bench_script(self, name: str) -> str:
        return str(BENCH / name)

    def available(self, command: str) -> bool:
        """Our console script is installed and `COMMAND --help` exits 0 (it may be a stub)."""
        if command not in self._available:
            path = self.ours(command)
            ok = os.access(path, os.X_OK)
            if ok:
                try:
                    ok = subprocess.run([path, "--help"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, timeout=30).returncode == 0
                except (OSError, subprocess.TimeoutExpired):
                    ok = False
            self._available[command] = ok
        return self._available[command]


WORKLOADS: list[tuple[str, Callable[[Context], list[Case]]]] = []
FULL_ONLY: set[str] = set()            # workloads that --quick leaves out unless named in --only


def workload(name: str, quick: bool = True):
    """Register ``f(ctx) -> list[Case]`` under ``name`` (for --only); the table keeps this order.

    ``quick=False`` (or full_only(name)) leaves it out of --quick runs unless --only names it.
    """
    def register(func):
        WORKLOADS.append((name, func))
        if not quick:
            FULL_ONLY.add(name)
        return func
    return register


def full_only(name: str) -> None:
    FULL_ONLY.add(name)


# ---------------------------------------------------------------------------------------------
# Measuring

@dataclass
class SideResult:
    key: str
    command: str
    runs: list[Measurement] = field(default_factory=list)
    error: str = ""
    skipped: str = ""
    cut_short: bool = False            # fewer repeats than asked: the time budget ran out
    overhead_s: float = 0.0            # setup, sync and clean-up around the timed runs
    extras: list[dict] = field(default_factory=list)   # what Side.after returned, per timed run

    def extra(self, name: str, pick=max):
        """The largest (``pick=min``: smallest) value of figure ``name`` over the runs, or None."""
        values = [e[name] for e in self.extras if e.get(name) is not None]
        return pick(values) if values and not self.error else None

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def time_s(self) -> float | None:
        return statistics.median(r.wall_s for r in self.runs) if self.runs and not self.error else None

    @property
    def best_s(self) -> float | None:
        return min(r.wall_s for r in self.runs) if self.runs and not self.error else None

    @property
    def peak_mb(self) -> float | None:
        return statistics.median(r.peak_mb for r in self.runs) if self.runs and not self.error else None

    def to_json(self) -> dict:
        return {
            "command": self.command,
            "n": self.n,
            "median_s": self.time_s,
            "best_s": self.best_s,
            "median_peak_mb": self.peak_mb,
            "times_s": [round(r.wall_s, 4) for r in self.runs],
            "peaks_mb": [round(r.peak_mb, 1) for r in self.runs],
            "peak_sum_mb": [round(r.peak_sum_kb / 1024, 1) for r in self.runs],
            "cpu_s": [round(r.cpu_s, 3) for r in self.runs],
            "peak_method": self.runs[0].peak_method if self.runs else None,
            "error": self.error or None,
            "skipped": self.skipped or None,
            "cut_short": self.cut_short,
            "extras": self.extras or None,
        }


def measure_side(side: Side, ctx: Context, log) -> SideResult:
    return measure_sides([side], ctx, log)[side.key]


def measure_sides(sides: list[Side], ctx: Context, log) -> dict[str, SideResult]:
    """Measure ``sides`` round by round (one repeat of each, in turn): a machine that is slower
    for a while then slows every side alike, and their ratios stay fair."""
    states = [_SideState(side, SideResult(side.key, side.describe)) for side in sides]
    for index in range(max((s.side.repeats + (1 if s.side.warmup else 0) for s in states), default=0)):
        for state in states:
            if not state.done and index < state.side.repeats + (1 if state.side.warmup else 0):
                state.done = not _one_repeat(state, index, ctx, log)
    return {state.side.key: state.result for state in states}


@dataclass
class _SideState:
    side: Side
    result: SideResult
    last: float = 0.0        # the previous repeat, set-up and clean-up included
    done: bool = False


def _one_repeat(state: _SideState, index: int, ctx: Context, log) -> bool:
    """Run repeat ``index`` of a side; False when the side is to stop (an error, the budget)."""
    side, result = state.side, state.result
    if result.runs and ctx.deadline and time.perf_counter() + 1.5 * state.last > ctx.deadline:
        result.cut_short = True  # keep the whole run inside its budget; n in the table says so
        log(f"    {side.key}: time budget reached, stopping after {len(result.runs)} run(s)")
        return False
    began = time.perf_counter()
    rundir = ctx.work / f"run-{side.key.replace('/', '_').replace(' ', '_')}-{index}"
    set_aside(rundir, ctx)
    rundir.mkdir(parents=True)
    try:
        run = side.command(rundir)   # may do untimed set-up (render a study, write stand-ins)
    except Exception as err:  # noqa: BLE001 - reported as the side's error
        result.error = f"set-up failed: {type(err).__name__}: {err}"
        set_aside(rundir, ctx)
        return False
    if side.writes:
        os.sync()  # the previous run's writes and deletions must not land inside this one
    extra = None
    try:
        m = measure(run.stages, cwd=str(run.cwd or rundir), env=_environ(run.env), stdout=run.stdout,
                    timeout=run.timeout)
    except OSError as err:
        result.error = f"cannot run {run.stages[0][0]}: {err}"
        return False
    finally:
        try:
            extra = side.after(rundir) if side.after else None
        except Exception as err:  # noqa: BLE001 - reported as the side's error
            result.error = f"after the run: {type(err).__name__}: {err}"
        set_aside(rundir, ctx)
        state.last = time.perf_counter() - began
        result.overhead_s += state.last
    result.overhead_s -= m.wall_s
    if not m.ok:
        result.error = ("timed out after %.0f s" % run.timeout) if m.timed_out else (m.stderr or "failed")
        return False
    if result.error:
        return False
    if side.warmup and index == 0:
        return True
    result.runs.append(m)
    if extra:
        result.extras.append(dict(extra))
    log(f"    {side.key}: run {len(result.runs)}/{side.repeats}: {m.wall_s:.3f} s, {m.peak_mb:.0f} MB"
        + "".join(f", {k} {v}" for k, v in (extra or {}).items()))
    return True


def set_aside(path: Path, ctx: Context) -> None:
    """Move a finished run's directory out of the way; it is deleted with the scratch directory
    at the end of the whole benchmark, never between runs.

    Deleting a tree between runs slowed the next runs' file creation six- to eightfold on the
    development VM (ext4 without a journal: inode allocation skips, and reads, every inode freed
    in the last minute, or six while its table block is not written back): a clean-up must not
    be timed as part of the next command.
    """
    if not path.exists():
        return
    trash = ctx.work / "set-aside"
    trash.mkdir(exist_ok=True)
    try:
        path.rename(trash / f"{len(os.listdir(trash))}-{path.name}")
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


def _environ(extra: dict | None) -> dict | None:
    if not extra:
        return None
    env = dict(os.environ)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


# ---------------------------------------------------------------------------------------------
# Environments

def ensure_parity_venv(log) -> str | None:
    """maestrowf 1.2.1 in .parity-venv (shared with the parity suite); None when ready, else why not."""
    python = PARITY_VENV / "bin" / "python"

    def ready() -> bool:
        return python.exists() and subprocess.run(
            [str(python), "-c", f"import maestrowf, sys; sys.exit(maestrowf.__version__ != '{MAESTRO_VERSION}')"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    if ready():
        return None
    log(f"  creating {PARITY_VENV.name} with maestrowf=={MAESTRO_VERSION} (once)...")
    try:
        if MAKE_PARITY_VENV.exists():
            subprocess.run(["sh", str(MAKE_PARITY_VENV)], check=True, timeout=900, stdout=sys.stderr)
        else:  # the same commands as tests/parity/make_venv.sh
            subprocess.run(["python3", "-m", "venv", str(PARITY_VENV)], check=True, timeout=300)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"maestrowf=={MAESTRO_VERSION}"],
                           check=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as err:
        return f"could not create {PARITY_VENV.name}: {err}"
    return None if ready() else f"{PARITY_VENV.name} has no maestrowf {MAESTRO_VERSION}"


def ensure_bench_venv(log) -> str | None:
    """matplotlib in .bench-venv (for the plot only); returns its python, or None."""
    python = BENCH_VENV / "bin" / "python"

    def ready() -> bool:
        return python.exists() and subprocess.run(
            [str(python), "-c", "import matplotlib"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0

    if not ready():
        log(f"  installing matplotlib into {BENCH_VENV.name} (once)...")
        try:
            if not python.exists():
                subprocess.run(["python3", "-m", "venv", str(BENCH_VENV)], check=True, timeout=300)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", "matplotlib"], check=True,
                           timeout=600, stdout=sys.stderr)
        except (OSError, subprocess.SubprocessError) as err:
            log(f"  plot skipped: could not install matplotlib: {err}")
            return None
    return str(python) if ready() else None
