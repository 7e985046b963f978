"""The state's journal, `<root>/changes.jsonl`: what changed since state.json was written.

A pass that changed a few steps of a large study appends one line here instead of rewriting
state.json, so finishing a step writes a few hundred bytes, whatever the size of the study.  A
line holds the whole entry of every step the pass changed, the top-level fields it changed
(``requests``, ``updated``), the checksum of the state.json it applies to (``base``) and its own
checksum.  The state is state.json with every line whose base is state.json's checksum applied
in order: ``statefile.read_state`` does that for every reader.  A writer that writes state.json
anew (statefile.write_state: a compaction, a request, a settings edit) makes every line stale at
once, its base being the old checksum, and then empties the journal.

- A line is appended whole, by one write, under the study lock.  A last line without its newline
  (its writer was killed mid-write, or is still writing) is not part of the state yet; neither
  is a line that is not JSON (the torn rest of such a line, once a later line followed it).
- A whole line whose checksum does not hold was edited by hand or damaged: the state is refused,
  as for state.json itself.
"""

import hashlib
import os

from .errors import InvalidInput
from .jsonio import current_umask, dumps, loads_hashed
from .reading import read_regular

FILE = "changes.jsonl"
MAX_JOURNAL_BYTES = 2 * 1024 ** 3   # as state.json: a pass writes state.json whole long before
SCHEMA, VERSION = "maestro.changes", 1
_PREFIX = b'{"checksum":"'
_HEAD = len(_PREFIX) + 64 + 2        # '{"checksum":"<64 hex>",'


def path(root) -> str:
    return os.path.join(os.fspath(root), FILE)


def size(root) -> int:
    try:
        return os.stat(path(root)).st_size
    except FileNotFoundError:
        return 0


def encode(base: str, steps: dict, fields: dict) -> bytes:
    """One line (without its newline): the changed steps' entries and top-level ``fields``, on
    top of state.json ``base``; its checksum (over the rest of the line, as written) first."""
    body = dumps({"schema": SCHEMA, "version": VERSION, "base": base, "steps": steps, "set": fields})[:-1]
    return _PREFIX + hashlib.sha256(body).hexdigest().encode() + b'",' + body[1:]


def append(root, line: bytes, durable: bool) -> int:
    """Append ``line`` (fsync when ``durable``); returns the journal's new size.  A line is
    preceded by a newline, which ends a line torn by a crash so that it cannot swallow this one."""
    from .jsonio import append as append_bytes

    new_size = append_bytes(path(root), b"\n" + line + b"\n", 0o664 & ~current_umask())
    if durable:
        fd = os.open(path(root), os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return new_size


def apply(root, state: dict) -> int:
    """Apply the journal's live lines to ``state`` (state.json as read, with its checksum) in
    order; returns how many bytes of the journal were read."""
    try:
        data = read_regular(path(root), MAX_JOURNAL_BYTES, "the state's journal")
    except FileNotFoundError:
        return 0
    base = state.get("checksum")
    end = data.rfind(b"\n")
    steps = state["steps"]
    for number, raw in enumerate(data[:end + 1].split(b"\n"), start=1):
        if not raw:
            continue
        change = _parse(raw, root, number)
        if change is None or change.get("base") != base:
            continue                           # torn, or written before state.json: stale
        steps.update(change["steps"])
        state.update(change["set"])
    return len(data)


def _parse(raw: bytes, root, number: int) -> dict | None:
    if not raw.startswith(_PREFIX) or raw[_HEAD - 2:_HEAD] != b'",':
        return None
    try:
        change, digest = loads_hashed(raw, b"{", _HEAD)
    except ValueError:
        return None
    if not isinstance(change, dict) or change.get("schema") != SCHEMA:
        return None
    if raw[len(_PREFIX):_HEAD - 2].decode("ascii", "replace") != digest:
        raise InvalidInput(f"{path(root)}: line {number} was edited by hand or damaged (its checksum does "
                           "not hold); restore the study's files or render it again")
    if change.get("version") != VERSION:
        raise InvalidInput(f"{path(root)}: line {number} is a {SCHEMA} version {change.get('version')!r}, "
                           f"this tool reads version {VERSION}; use the release that wrote it")
    if not isinstance(change.get("steps"), dict) or not isinstance(change.get("set"), dict):
        raise InvalidInput(f"{path(root)}: line {number} is not a change of the state")
    return change


def clear(root) -> None:
    """Empty the journal (state.json, just written, holds what it said)."""
    try:
        os.truncate(path(root), 0)
    except FileNotFoundError:
        pass
