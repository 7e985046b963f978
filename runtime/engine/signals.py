"""Signals that end a command never land in the middle of a pass.

A pass changes the state in memory step by step (a failed step's whole subtree, a job id and then
the step's move to PENDING) and then writes it.  A KeyboardInterrupt raised between two of those
changes would leave a half-applied state, and writing it could run a step twice or leave a study
that never ends.  So while a pass runs, SIGINT, SIGTERM and SIGHUP are only noted; the pass stops
at the next point where its state is whole (``HeldSignals.arrived``), writes it, and then
``Interrupted`` is raised.  Outside passes (a loop waiting), the signals act at once.
"""

import contextlib
import signal
import threading

from mshared.errors import Interrupted

ENDING = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class HeldSignals:
    """The ending signals noted while a pass ran (the first one decides the exit code)."""

    def __init__(self):
        self.received: list[int] = []

    def arrived(self) -> bool:
        return bool(self.received)

    def note(self, signum, frame) -> None:
        self.received.append(signum)


@contextlib.contextmanager
def held():
    """Note SIGINT, SIGTERM and SIGHUP during the block instead of acting on them; raise
    Interrupted after it when one came.  Only the main thread can handle signals: elsewhere the
    block runs as is."""
    holder = HeldSignals()
    if threading.current_thread() is not threading.main_thread():
        yield holder
        return
    previous = {signum: signal.signal(signum, holder.note) for signum in _handled(ENDING)}
    try:
        yield holder
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if holder.received:
        raise Interrupted(holder.received[0])


@contextlib.contextmanager
def ending_signals_raise():
    """For a loop: SIGTERM and SIGHUP raise Interrupted (as SIGINT raises KeyboardInterrupt) so
    that the loop ends through its callers, which say why, instead of dying silently."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, stop) for signum in _handled(ENDING) if signum != signal.SIGINT}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _handled(signums):
    """The signals this process does not ignore: one started with SIGINT ignored (a background
    job of a shell script) keeps ignoring it."""
    return [signum for signum in signums if signal.getsignal(signum) is not signal.SIG_IGN]
