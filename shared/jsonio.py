"""Deterministic JSON: orjson with sorted keys and a final newline, and atomic file writes."""

import os
import tempfile

import orjson

_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def dumps(doc, pretty: bool = False) -> bytes:
    """Serialise ``doc`` to bytes; the same document always gives the same bytes."""
    opts = _OPTS | (orjson.OPT_INDENT_2 if pretty else 0)
    return orjson.dumps(doc, option=opts) + b"\n"


def dumps_list_items(items: list) -> bytes:
    """The items of ``items`` as ``dumps`` writes them inside the list: comma-separated, no brackets."""
    return orjson.dumps(items, option=_OPTS)[1:-1]


def dumps_spliced(doc: dict, key: str, parts) -> bytes:
    """``dumps(doc)`` where ``doc[key]`` (a list, at the top level) holds the items whose
    ``dumps_list_items`` are ``parts``, in order: a long list serialised a part at a time, never
    held whole.  The same bytes as ``dumps`` of the whole document."""
    import secrets

    marker = f"splice-{secrets.token_hex(16)}"     # a string no document holds by chance
    head, found, tail = dumps({**doc, key: marker}).partition(b'"' + marker.encode() + b'"')
    if not found:
        raise ValueError(f"{key!r} is not a key of the document")
    pieces = [head, b"["]
    for part in parts:
        if part:
            pieces += (part, b",")
    if len(pieces) > 2:
        pieces[-1] = b"]"        # the comma after the last part
    else:
        pieces.append(b"]")
    pieces.append(tail)
    return b"".join(pieces)      # one join: the document is copied once (a large one is most of the memory)


def loads(data):
    return orjson.loads(data)


def loads_hashed(data: bytes, prefix: bytes = b"", start: int = 0):
    """(``loads(data)``, sha256 hex of ``prefix + data[start:]``), the hash taken in a thread while
    the main one parses: hashlib lets go of the GIL, so a large file costs the longer of the two.
    ``loads`` errors propagate (after the hash thread is done)."""
    import hashlib

    digest = hashlib.sha256(prefix)
    view = memoryview(data)[start:]
    if len(view) < 1 << 20:
        digest.update(view)
        return loads(data), digest.hexdigest()
    import threading

    worker = threading.Thread(target=digest.update, args=(view,))
    worker.start()
    try:
        doc = loads(data)
    finally:
        worker.join()
    return doc, digest.hexdigest()


def write_atomic(path, data: bytes, mode: int | None = None, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never half.

    Temp file in the same directory, fsync (``durable``), then rename: after a crash or a power
    cut the file is the old or the new one.  (The directory is not fsynced: losing the rename
    only means the old whole file, which is allowed.)  ``mode`` defaults to ``default_mode()``.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix="-" + os.path.basename(path))
    except OSError as err:
        raise _naming(err, path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else default_mode())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError):   # disk full, quota, read-only: say which file (it is unchanged)
            raise _naming(err, path) from None
        raise


def append(path, data: bytes, mode: int | None = None) -> int:
    """Append ``data`` (whole lines) to ``path`` with one write, creating it if needed (mode
    ``default_mode()`` unless given); returns the file's new size.  No fsync.  If the write fails
    (disk full), the file is cut back to its old size, so a torn line never glues itself to the
    next one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                     mode if mode is not None else default_mode())
    except OSError as err:
        raise _naming(err, path) from None
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError as err:
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            raise _naming(err, path) from None
        return size + len(data)
    finally:
        os.close(fd)


def _naming(err: OSError, path) -> OSError:
    """The same error, naming the file being replaced rather than a temporary name (or none)."""
    return OSError(err.errno, err.strerror or str(err), os.fspath(path))


def default_mode() -> int:
    """The mode of a file the tools create: 0o666 minus the umask, and never world-writable (under
    umask 000 anyone could otherwise forge an intent or a pid, or rewrite status.csv)."""
    return 0o666 & ~current_umask() & ~0o002


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
