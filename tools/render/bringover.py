"""Bring a reused instance's workspace over from the old study: a copy of every file, made as a
reflink (FICLONE: the file systems that can, such as XFS and Btrfs, share the blocks until
either side writes) or else copied byte for byte (copy_file_range: in the kernel, no trip
through Python).

Never a hard link: a hard-linked file is one file in two studies, so a step that appends to its
output in the new study would change the old study's copy, and the other way round.  A reflink
or a copy is a file of its own.  Modes and modification times are kept (a later `make` in a
step sees its outputs as they were); symbolic links are copied as links; sockets, fifos and
devices are left out.  Names the new study already has (its freshly written scripts) are kept.
"""

import errno
import fcntl
import os
import stat

from mshared.errors import InvalidInput
from mshared.jsonio import current_umask

FICLONE = 0x40049409          # _IOW(0x94, 9, int), linux/fs.h
_NO_CLONE = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EPERM)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_OPEN = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


class Copier:
    """Copies files; tries a reflink until the file system says it cannot, then only copies."""

    def __init__(self):
        self.clone = hasattr(fcntl, "ioctl")
        self.files = 0
        self.cloned = 0
        self.umask = current_umask()

    def tree(self, source: str, target: str, skip=()) -> None:
        """Copy what is in the directory ``source`` into the existing directory ``target``,
        leaving out the top-level names in ``skip`` and every name ``target`` already has."""
        try:
            entries = list(os.scandir(source))
        except FileNotFoundError:
            return                      # nothing was ever written there: nothing to bring
        except OSError as err:
            raise _unreadable(source, err) from None
        for entry in entries:
            if entry.name in skip:
                continue
            into = os.path.join(target, entry.name)
            try:
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    try:
                        os.mkdir(into, 0o700)
                    except FileExistsError:
                        continue
                    self.tree(entry.path, into)
                    os.chmod(into, stat.S_IMODE(info.st_mode))
                    os.utime(into, ns=(info.st_atime_ns, info.st_mtime_ns))
                elif stat.S_ISLNK(info.st_mode):
                    os.symlink(os.readlink(entry.path), into)
                    os.utime(into, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)
                elif stat.S_ISREG(info.st_mode):
                    self.file(entry.path, into, info)
            except FileExistsError:
                continue

    def file(self, source: str, target: str, info: os.stat_result) -> None:
        mode = stat.S_IMODE(info.st_mode)
        dst = os.open(target, _CREATE, mode)
        try:
            if info.st_size:
                try:
                    src = os.open(source, _OPEN)
                except OSError as err:
                    raise _unreadable(source, err) from None
                try:
                    if not self._clone(src, dst):
                        _copy_bytes(src, dst, info.st_size)
                finally:
                    os.close(src)
            if mode & self.umask:
                os.fchmod(dst, mode)            # the umask must not change it
            os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(dst)
        self.files += 1

    def _clone(self, src: int, dst: int) -> bool:
        if not self.clone:
            return False
        try:
            fcntl.ioctl(dst, FICLONE, src)
        except OSError as err:
            if err.errno in _NO_CLONE:
                self.clone = False      # this file system cannot: do not ask for every file
                return False
            raise
        self.cloned += 1
        return True


def _unreadable(path: str, err: OSError) -> InvalidInput:
    """A file of the old study that cannot be read: the old study's problem (65), not a failed write."""
    return InvalidInput(f"--reuse: cannot read '{path}' of the old study: {err.strerror}; fix its "
                        "permissions, or run without --reuse")


def _copy_bytes(src: int, dst: int, size: int) -> None:
    try:
        if not hasattr(os, "copy_file_range"):
            raise OSError(errno.ENOSYS, "no copy_file_range")
        done = 0
        while done < size:
            step = os.copy_file_range(src, dst, min(size - done, 1 << 30))
            if not step:
                break                   # the file shrank since it was listed
            done += step
    except OSError as err:     # no copy_file_range between these file systems: read and write
        if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        os.lseek(src, 0, os.SEEK_SET)
        os.lseek(dst, 0, os.SEEK_SET)
        os.ftruncate(dst, 0)
        while block := os.read(src, 1 << 20):
            view = memoryview(block)
            while view:
                view = view[os.write(dst, view):]


def bring_over(root: str, copies) -> Copier:
    """Copy each (old workspace, new workspace relative to ``root``, names to leave) into ``root``.

    One thread: the time goes into creating files, and threads creating files at once only
    contended for the file system (bench/README.md, "Figures behind the code").
    """
    copier = Copier()
    for source, workspace, skip in copies:
        target = os.path.join(root, workspace)
        if not os.path.isdir(target):       # mrender made every workspace; a safety net only
            os.makedirs(target, exist_ok=True)
        copier.tree(source, target, frozenset(skip))
    return copier
