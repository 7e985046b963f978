"""The progress line of `maestro run -fg` on stderr: done/total and failures, redrawn in place."""

import sys
from collections import Counter

from mshared import states as S
from mshared.statefile import read_state


class Progress:
    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = width
        self.last = ""
        self.states: dict | None = None

    def update(self, root: str, events, status: str) -> None:
        if not events and self.last:
            return
        if self.states is None:   # once; then the events say what changed (the loop may not have
            self.states = {sid: e["state"] for sid, e in read_state(root)["steps"].items()}  # saved yet)
            self.counts = Counter(self.states.values())
        for event in events:   # a step the study gained since (mextend) comes with its first event
            self.counts[self.states.get(event["step"], event["from"])] -= 1
            self.states[event["step"]] = event["to"]
            self.counts[event["to"]] += 1
        total = len(self.states)
        done = sum(self.counts[s] for s in S.TERMINAL)
        failed = self.counts[S.FAILED] + self.counts[S.TIMEDOUT]
        running = sum(self.counts[s] for s in S.IN_FLIGHT)
        filled = int(self.width * done / total) if total else self.width
        line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} done, "
                f"{running} running, {failed} failed")
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def in_flight(self) -> int | None:
        """Steps in flight as the events so far tell (None before the first pass)."""
        if self.states is None:
            return None
        return sum(self.counts[s] for s in S.IN_FLIGHT)

    def interrupted(self) -> None:
        """End the line being redrawn, so that what follows starts on a line of its own."""
        try:
            if self.tty and self.last:
                self.stream.write("\n")
                self.stream.flush()
        except OSError:
            pass      # the terminal is gone (SIGHUP)

    def grew(self) -> None:
        """The study gained steps: count them from the state at the next update."""
        self.states = None

    def close(self, status: str) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
        self.stream.write(f"Study completed with state '{status}'.\n")
        self.stream.flush()
