"""A study directory as every tool finds it: is this one, its DAG read back and checked against its
state, and a change to its state made under the lock.

A study directory is what mrender (or `maestro run`) made: `state.json`, `dag.json` and the
workspaces.  The state records the sha256 of the DAG it was rendered with (`study.dag_sha256`),
so a reader trusts a DAG with that checksum without validating every step again, and refuses one
that was edited or replaced after rendering.

A study that grows (mextend) gets a new DAG and a new state in one commit (``edit_study``): the
DAG is written aside (`meta/dag.next.json`), the state naming its checksum is the commit, and the
DAG is then renamed over dag.json.  Until that rename (a crash between the two), readers take the
DAG aside, which is the one the state names; the next edit finishes the rename.
"""

import hashlib
import mmap
import os

from .contracts import DAG_SCHEMA, DAG_VERSION, MAX_DAG_BYTES, check_envelope, parse_dag
from .errors import InvalidInput
from .jsonio import loads_hashed, write_atomic
from .reading import open_regular, too_large
from .statefile import STATE_FILE, lock_study, read_state, write_state

DAG_FILE = "dag.json"
PENDING_DAG = os.path.join("meta", "dag.next.json")   # a committed DAG not yet renamed into place
LOCK_WAIT = 15   # seconds: a pass holds the lock briefly; an edit waits for it rather than fail


def study_root(path) -> str:
    """The absolute path of the study directory ``path``; InvalidInput (65) when it is not a
    directory or holds no state file."""
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        raise InvalidInput(f"{root}: not a directory; give a study directory made by mrender")
    if not os.path.isfile(os.path.join(root, STATE_FILE)):
        read_state(root)   # raises the state file's own message: missing, or not a file
    return root


def read_dag(root: str, state: dict) -> dict:
    """`<root>/dag.json`, the DAG of ``state`` (read from the same study); InvalidInput (65) when
    it is missing, is not the DAG the state was rendered with, has a newer version, or does not
    have the state's steps.

    With the state's ``dag_sha256`` the bytes are checked against it (hashed while they are
    parsed) and only the envelope is checked; without one (a state not written by mrender) every
    step is validated.
    """
    path = os.path.join(root, DAG_FILE)
    data = _map(path)
    expected = state["study"].get("dag_sha256")
    if not expected:
        dag = parse_dag(data, path)
    else:
        try:
            dag, digest = loads_hashed(data)
        except ValueError:
            dag, digest = None, hashlib.sha256(data).hexdigest()
        if digest != expected:
            dag, digest = _pending_dag(root, expected)
        if digest != expected:
            raise InvalidInput(f"{path}: does not match the DAG this study was rendered from (it does not "
                               "match state.json's dag_sha256: edited or replaced?); restore it or render "
                               "the study again")
        if dag is None:
            raise InvalidInput(f"{path}: not valid JSON; restore it or render the study again")
        check_envelope(dag, DAG_SCHEMA, DAG_VERSION, path)
    steps = dag.get("steps")
    # the DAG mrender wrote with this state has the same steps; any other is checked id by id
    if not isinstance(steps, list) or len(steps) != len(state["steps"]) or not expected and not all(
            isinstance(s, dict) and s.get("id") in state["steps"] for s in steps):
        raise InvalidInput(f"{root}: state.json and dag.json do not describe the same steps; "
                           "restore the study's files")
    return dag


def _pending_dag(root: str, expected: str):
    """(the DAG written aside by an ``edit_study`` whose state was committed, its sha256), or
    (None, None) when there is none with the state's checksum."""
    try:
        with open(os.path.join(root, PENDING_DAG), "rb") as handle:
            data = handle.read()
    except OSError:
        return None, None
    try:
        dag, digest = loads_hashed(data)
    except ValueError:
        return None, None
    return (dag, digest) if digest == expected else (None, None)


def _map(path: str):
    """The bytes of ``path``, mapped rather than read: a large DAG is not copied.  Only a regular
    file of at most MAX_DAG_BYTES is mapped."""
    try:
        with open(open_regular(path, "the DAG"), "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_DAG_BYTES:
                raise too_large(path, "the DAG", MAX_DAG_BYTES)
            return memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
    except ValueError:
        return b""                          # an empty file cannot be mapped
    except FileNotFoundError:
        raise InvalidInput(f"{path}: missing; is this a study directory made by mrender?") from None
    except OSError as err:
        raise InvalidInput(f"{path}: cannot read: {err.strerror}") from None


def edit_state(root: str, change, *, wait: float = LOCK_WAIT):
    """Change the state of the study at ``root`` under its lock: ``change(state, dag)`` edits
    ``state`` in place (or raises, and nothing is written); returns what ``change`` returns.

    The lock is waited for up to ``wait`` seconds (StateBusy, 75, after that).  The whole study
    is checked (state against DAG, versions) before anything is written, so a state the passes
    would refuse is never written; the state is written only when its bytes change.
    """
    with lock_study(root, wait=True, timeout=wait):
        state = read_state(root)
        settle_dag(root, state)
        dag = read_dag(root, state)
        result = change(state, dag)
        write_state(root, state)
        return result


def edit_study(root: str, change, *, wait: float = LOCK_WAIT):
    """``edit_state`` for a change that may also replace the DAG: ``change(state, dag)`` edits
    ``state`` in place and returns ``(result, new_dag_bytes or None)``; returns ``result``.

    The new DAG and the state are one commit: the DAG is written aside (fsync), then the state
    with the DAG's sha256 (the commit), then the DAG is renamed over dag.json.  A crash before
    the state is written leaves the study as it was (the file aside is no DAG of its state); a
    crash after it leaves the committed DAG aside, which readers take (``read_dag``) and the next
    edit renames.  Raises as ``edit_state``; if ``change`` raises, nothing is committed.
    """
    with lock_study(root, wait=True, timeout=wait):
        state = read_state(root)
        settle_dag(root, state)
        dag = read_dag(root, state)
        result, data = change(state, dag)
        if data is None:
            write_state(root, state)
            return result
        pending = os.path.join(root, PENDING_DAG)
        current = os.path.join(root, DAG_FILE)
        os.makedirs(os.path.dirname(pending), exist_ok=True)
        write_atomic(pending, data, os.stat(current).st_mode & 0o777, durable=True)
        state["study"]["dag_sha256"] = hashlib.sha256(data).hexdigest()
        write_state(root, state)
        os.replace(pending, current)
        return result


def settle_dag(root: str, state: dict) -> bool:
    """Under the study lock: rename a committed DAG left aside by a crash over dag.json (True),
    or leave the study alone (False)."""
    expected = state["study"].get("dag_sha256")
    pending = os.path.join(root, PENDING_DAG)
    if not expected or not os.path.exists(pending):
        return False
    if _pending_dag(root, expected)[0] is None:
        return False            # a DAG of an edit that never committed: the next one replaces it
    os.replace(pending, os.path.join(root, DAG_FILE))
    return True
