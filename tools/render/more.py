"""Rendering new instances into a study that exists (``core.add_steps``, for mextend).

The scripts are made by the same planning as a whole render (``core._plan_steps``: tokens,
launchers, headers, modes); only the writing differs.  The study is live, so nothing is built
aside and renamed into place: missing workspace directories are made, each script is written
whole (temporary file, rename), and a script that is already there is left as it is when it has
the same bytes (a run that was interrupted before its commit wrote it) and refused otherwise.
Nothing references the new workspaces until the caller commits the new DAG and state, so an
interruption leaves files that no step uses and that the next attempt writes again.
"""

import os

from mshared.errors import InvalidInput
from mshared.jsonio import current_umask, write_atomic

from .writer import DIR_MODE, SCRIPT_MODE


def add_tree(base: str, dirs: list[str], files: list[tuple[str, bytes]]) -> None:
    """Make the missing ``dirs`` and write the scripts ``files`` [(relative path, bytes)] under ``base``."""
    mask = current_umask()
    for path in dirs:
        target = os.path.join(base, path)
        if os.path.isdir(target) and not os.path.islink(target):
            continue
        try:
            os.mkdir(target, DIR_MODE)
        except FileExistsError:
            raise InvalidInput(f"'{target}' is in the way of a new workspace (not a directory); move it "
                               "aside and try again") from None
    for path, data in files:
        target = os.path.join(base, path)
        try:
            with open(target, "rb") as handle:
                same = handle.read(len(data) + 1) == data
        except FileNotFoundError:
            write_atomic(target, data, SCRIPT_MODE & ~mask, durable=False)
            continue
        except OSError as err:
            raise InvalidInput(f"'{target}' is in the way of a new step script: {err.strerror}; move it "
                               "aside and try again") from None
        if not same:
            raise InvalidInput(f"'{target}' exists with other content, where a new step's script goes; move "
                               "it aside and try again")
