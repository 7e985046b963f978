"""May an occupied output directory be moved aside (`--force`, `maestro run -y`)?

Moving a directory aside deletes nothing, but it is not harmless: a study whose conductor still
runs keeps driving whatever is at its old path (the new study), and a study that has not ended
has jobs whose scripts write to the old path.  The current directory (or one of its parents)
would move from under the shell.  These are refused whatever the flags; everything else that is
not a study moves only with an explicit `--force` (the caller's rule).
"""

import os

from mshared.conductor import conductor_alive
from mshared.errors import InvalidInput
from mshared.statefile import STATE_FILE, read_state


def is_study(path: str) -> bool:
    """A study directory (a real directory holding a state file), as mrender makes them."""
    return (os.path.isdir(path) and not os.path.islink(path)
            and os.path.isfile(os.path.join(path, STATE_FILE)))


def check_movable(path: str) -> None:
    """InvalidInput (65) when ``path`` must not be moved aside: it holds the working directory,
    its conductor is alive, or it is a study that has not ended."""
    here, target = os.path.realpath(os.getcwd()), os.path.realpath(path)
    if here == target or here.startswith(target.rstrip("/") + "/"):
        raise InvalidInput(f"output directory '{path}' is the current directory or holds it; it is never "
                           "moved aside: choose another with -o")
    pid = conductor_alive(path)
    if pid:
        raise InvalidInput(f"output directory '{path}' is a study whose conductor is running (pid {pid}); "
                           f"it is never moved aside: wait for it to end, or stop it with: maestro cancel "
                           f"{path}; or choose another directory with -o")
    if is_study(path):
        status = _status(path)
        if status == "RUNNING":
            raise InvalidInput(f"output directory '{path}' is a study that has not ended (its jobs would "
                               f"write into the new one); it is never moved aside: resume it with maestro "
                               f"conductor {path}, or stop it with maestro cancel {path}; or choose another "
                               "directory with -o")


def _status(path: str) -> str | None:
    """The study's status, or None when its state cannot be read (damaged: only --force moves it)."""
    from mruntime.engine.requests import waiting
    from mshared.states import study_status

    try:
        state = read_state(path)
    except InvalidInput:
        return None
    return "RUNNING" if waiting(state["requests"]) else study_status(state)
