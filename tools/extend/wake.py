"""Waking a loop that waits: `meta/wake`, made after a commit that gives the study more to do.

A loop between passes waits (its poll interval, or, for an open study with nothing to run, until
mextend comes); it looks for this file several times a second and, when it is there, removes it
and makes a pass at once.  The file is made only after the new state is committed, and removed
only by a waiting loop before its pass, so no extension is missed: at worst a pass is made that
finds nothing new.
"""

import os

FILE = os.path.join("meta", "wake")


def wake(root: str) -> None:
    """Ask a waiting loop of the study at ``root`` for a pass now (no loop: nothing happens)."""
    try:
        os.close(os.open(os.path.join(root, FILE), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
    except OSError:
        pass   # no meta directory or no room: the loop notices at its next poll instead


def woken(root: str) -> bool:
    """True (and the request taken) when someone asked for a pass since the last look."""
    try:
        os.unlink(os.path.join(root, FILE))
        return True
    except FileNotFoundError:
        return False
    except OSError:
        return False
