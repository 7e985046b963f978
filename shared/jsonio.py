"""Deterministic JSON: orjson with sorted keys and a final newline, and atomic file writes."""

import os
import tempfile

import orjson

_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def dumps(doc, pretty: bool = False) -> bytes:
    """Serialise ``doc`` to bytes; the same document always gives the same bytes."""
    opts = _OPTS | (orjson.OPT_INDENT_2 if pretty else 0)
    return orjson.dumps(doc, option=opts) + b"\n"


def loads(data):
    return orjson.loads(data)


def write_atomic(path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never half.

    Temp file in the same directory, fsync, then rename; the directory is fsynced too so the
    rename survives a power cut.  ``mode`` defaults to 0o666 minus the umask, like open().
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
