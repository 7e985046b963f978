"""Bounded reads of input files: only regular files, never more than a documented number of bytes.

A spec, a DAG or a state file that is a FIFO would hang the reader for ever, a character device
(`/dev/zero`, or `state.json` as a symlink to it) would fill its memory, and a directory cannot be
read at all: each is refused at once, in one line, before anything is read.  The file is looked
at with stat before it is opened (opening some devices does something), then opened with
O_NONBLOCK (a FIFO swapped in between cannot block the open) and checked again on the open
descriptor.  A stream (stdin) is read up to its limit and refused past it.
"""

import os
import stat

from .errors import InvalidInput

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))
_CHUNK = 1 << 20


def open_regular(path: str, what: str) -> int:
    """A read-only descriptor of ``path`` (the ``what`` in messages: "the state file", ...);
    InvalidInput (65) when it is not a regular file.  OSError (missing, no permission) is raised
    as is, for the caller's own message."""
    refuse_irregular(os.stat(path).st_mode, path, what)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        refuse_irregular(os.fstat(fd).st_mode, path, what)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def refuse_irregular(mode: int, path: str, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise InvalidInput(f"{path}: {what} is {kind}, not a regular file; give the file itself")


def read_regular(path: str, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refused (InvalidInput) beyond ``limit`` bytes;
    OSError as ``open_regular``."""
    fd = open_regular(path, what)
    with open(fd, "rb", buffering=0) as handle:     # closes fd
        if os.fstat(fd).st_size > limit:
            raise too_large(path, what, limit)
        data = handle.readall()    # one allocation of the file's size
    if len(data) > limit:          # it grew while being read
        raise too_large(path, what, limit)
    return data


def read_stream(handle, limit: int, source: str, what: str, starts: bytes | None = None) -> bytearray:
    """At most ``limit`` bytes of a binary stream (stdin), read in chunks as they come;
    InvalidInput when there are more (an endless pipe is refused after reading just past the
    limit), or, with ``starts``, as soon as the first bytes that are not white space are not
    ``starts`` (`yes`, /dev/zero on stdin: refused at the first chunk)."""
    data = bytearray()
    read = getattr(handle, "read1", handle.read)
    checked = starts is None
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            return data
        data += chunk
        if len(data) > limit:
            raise too_large(source, what, limit)
        if not checked and chunk.lstrip():     # the first chunk that is not all white space
            if not chunk.lstrip().startswith(starts):
                raise InvalidInput(f"{source}: {what} does not start with {starts.decode()!r}; is it the "
                                   "right input?")
            checked = True


def too_large(source: str, what: str, limit: int) -> InvalidInput:
    return InvalidInput(f"{source}: {what} is larger than {limit:,} bytes, the limit; is it the right file?")
