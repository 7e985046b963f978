"""The study's state file, `<root>/state.json`: build, lock, read (checked) and write (atomic).

Writers hold the study lock (``studylock.lock_study``, re-exported here: flock on the sibling
`state.json.lock`; the state file itself cannot be the lock, each write replaces its inode).
Readers need no lock: writes are atomic renames, so a reader sees the old or the new file.  The
state is state.json plus the changes appended to its journal since (``statejournal``).  A sha256 checksum over the canonical
JSON of the document catches a truncated file or a hand edit, which would otherwise be read as a
valid study and acted on.  The shape is documented in shared/schemas/state.v1.schema.json.
"""

import hashlib
import os
from datetime import datetime

from . import statejournal, states
from .contracts import STATE_SCHEMA, STATE_VERSION, check_envelope
from .errors import InvalidInput
from .jsonio import current_umask, dumps, loads, loads_hashed, write_atomic
from .reading import open_regular, read_regular
from .studylock import LOCK_FILE, KeptLock, lock_study  # noqa: F401 (the state file's lock API)
from .times import iso_utc

STATE_FILE = "state.json"
# Bytes a state file may have: a 1,000,000-step study's is a few hundred MB (bench/README.md,
# "Figures behind the code"); past this it is not a state file (or /dev/zero behind a symlink).
MAX_STATE_BYTES = 2 * 1024 ** 3
DEFAULT_SETTINGS = {"throttle": 0, "attempts": 1, "rlimit": 1, "poll_interval": 60,
                    "dry": False, "usetmp": False}




_INITIAL_STEP = {"state": states.INITIALIZED, "job_id": None, "jobs": [], "attempts": 0, "restarts": 0,
                 "submitted": None, "started": None, "ended": None, "exit_code": None, "reason": None,
                 "not_before": None, "intent": None}


def initial_step() -> dict:
    """A step nothing has happened to yet (its own 'jobs' list: callers append to it)."""
    return {**_INITIAL_STEP, "jobs": []}


def new_state(study: dict, settings: dict, step_ids, now: datetime) -> dict:
    """A fresh state document: every step INITIALIZED.  ``study`` holds name, root, dag_sha256,
    scheduler and scripts_dir; ``created`` and ``updated`` are ``now``."""
    stamp = iso_utc(now)
    return {
        "schema": STATE_SCHEMA,
        "version": STATE_VERSION,
        "study": {**study, "created": stamp},
        "settings": {**DEFAULT_SETTINGS, **settings},
        "requests": {"cancel": False},
        "updated": stamp,
        "steps": {step_id: initial_step() for step_id in step_ids},
    }


def checksum(doc: dict) -> str:
    """sha256 (hex) of the canonical JSON (sorted keys, compact) of ``doc`` without 'checksum'."""
    body = {key: value for key, value in doc.items() if key != "checksum"}
    return hashlib.sha256(dumps(body)).hexdigest()


_PREFIX = b'{"checksum":"'


def encode_state(state: dict) -> bytes:
    """The bytes of state.json: the document with its checksum.

    'checksum' sorts before every other key, so the canonical document is the body with the
    checksum spliced in front: one serialisation instead of two (a large study's state is tens of MB).
    """
    body = dumps({key: value for key, value in state.items() if key != "checksum"})
    return _PREFIX + hashlib.sha256(body).hexdigest().encode() + b'",' + body[1:]


def head_checksum(root) -> bytes | None:
    """The checksum at the head of `<root>/state.json` as written by ``encode_state`` (a few
    bytes read, not the whole file): two states with the same one are the same document."""
    try:
        with open(open_regular(os.path.join(os.fspath(root), STATE_FILE), "the state file"), "rb") as handle:
            head = handle.read(len(_PREFIX) + 64)
    except (OSError, InvalidInput):
        return None
    return head[len(_PREFIX):] if head.startswith(_PREFIX) and len(head) == len(_PREFIX) + 64 else None


_HEAD = len(_PREFIX) + 64 + 2   # '{"checksum":"<64 hex>",'


def _parse_state(data: bytes):
    """(document, sha256 of its body when the bytes are as ``encode_state`` writes them, else None)."""
    if data.startswith(_PREFIX) and data[_HEAD - 2:_HEAD] == b'",':
        return loads_hashed(data, b"{", _HEAD)
    return loads(data), None


def _checksum_holds(body_sha: str | None, doc: dict, stored: str) -> bool:
    """Check the stored checksum: on the bytes we wrote (fast), else on the parsed document."""
    return body_sha == stored or stored == checksum(doc)


def read_state(root) -> dict:
    """The study's state: `<root>/state.json`, checked, with the journal's changes since it was
    written applied (``statejournal``).  No lock needed; InvalidInput when it is not sound."""
    path = os.path.join(os.fspath(root), STATE_FILE)
    try:
        data = read_regular(path, MAX_STATE_BYTES, "the state file")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no state file; is this a study directory made by mrender?") from None
    except OSError as err:
        raise InvalidInput(f"{path}: cannot read the state file: {err.strerror}") from None
    try:
        doc, body_sha = _parse_state(data)
    except ValueError:
        raise InvalidInput(f"{path}: not valid JSON (truncated or edited by hand?); restore it or "
                           "render the study again") from None
    check_envelope(doc, STATE_SCHEMA, STATE_VERSION, path)
    stored = doc.get("checksum")
    if not isinstance(stored, str):
        raise InvalidInput(f"{path}: state file has no checksum; it was not written by these tools")
    if not _checksum_holds(body_sha, doc, stored):
        raise InvalidInput(f"{path}: checksum mismatch: the state file was edited by hand or "
                           "damaged; restore it or render the study again")
    if not isinstance(doc.get("steps"), dict) or not isinstance(doc.get("study"), dict):
        raise InvalidInput(f"{path}: state file has no 'study' or 'steps'")
    statejournal.apply(root, doc)
    return doc


def write_state(root, state: dict, mode: int | None = None, durable: bool = True) -> bool:
    """Write ``state`` whole, atomically (fsync unless not ``durable``, rename), with its checksum,
    and empty the journal, whose lines it holds.  ``state`` must be the whole state (as
    ``read_state`` gives it), never state.json alone.  Returns False, and leaves the files
    untouched, when the bytes would be the same as the file's."""
    path = os.path.join(os.fspath(root), STATE_FILE)
    data = encode_state(state)
    try:
        with open(open_regular(path, "the state file"), "rb") as handle:   # the head first: a new
            if handle.read(_HEAD) == data[:_HEAD] and data[_HEAD:] == handle.read():   # state has a
                return False                                                        # new checksum
    except (FileNotFoundError, InvalidInput):   # none yet, or not a file: the write replaces it
        pass
    write_atomic(path, data, mode if mode is not None else 0o664 & ~current_umask(), durable=durable)
    statejournal.clear(root)           # its lines are in the file just written (and now stale)
    return True
