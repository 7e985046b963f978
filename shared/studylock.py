"""The study lock, `<root>/state.json.lock`: one writer of a study at a time.

Writers (passes, control requests, settings edits) hold it with ``lock_study(root)``; readers
never need it, as state.json is replaced whole by a rename.  The lock is flock(2) on the lock
file, which mrender creates with the study.

- No writer creates the lock file.  If it went missing (deleted by hand as a "stale lock", or by
  a scratch purge) and a writer made a new one, it would hold "the lock" while an older writer
  still held the lock on the deleted file: two writers at once.  A missing lock file stops every
  writer with one line that says how to restore it.
- Once locked, a writer checks that the path still names the file it locked (device and inode);
  if the file was replaced meanwhile, it locks the new one instead.
- Writers refresh the file's modification time once a day, so a purge that deletes the oldest
  files first does not take the lock file, whose content never changes, before the study.
- flock must be coherent across every machine that runs writers of the study: a local disk, NFS
  v4 (locks are kept by the server), Lustre mounted with `flock` (not `localflock`, whose locks
  are per node).  docs/reliability.md says how to check.
- The lock file holds the absolute path the study was rendered at (mrender writes it).  The
  scripts hold that path, so a study moved or copied elsewhere would write into the old place (or
  into a new study there): a writer that locks a study whose recorded path is not the directory
  it is in refuses it (``check_place``).  An empty lock file (older studies, or restored with
  `touch`) records nothing and is not checked.
"""

import contextlib
import os
import time

from .errors import InvalidInput, StateBusy

LOCK_FILE = "state.json.lock"
STATE_FILE = "state.json"
WAIT_STEP = 0.05          # seconds between tries while waiting for the lock
REFRESH_AFTER = 86400     # seconds: the lock file's modification time is refreshed once a day


class KeptLock:
    """A loop's lock file, kept open between its passes: only the lock is taken anew each pass."""

    def __init__(self):
        self.handle = None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


@contextlib.contextmanager
def lock_study(root, wait: bool = False, timeout: float | None = None, keep: KeptLock | None = None,
               placed: bool = True):
    """Hold the study lock for the block.  Without ``wait``, a held lock raises StateBusy (75) at
    once; with it, wait up to ``timeout`` seconds (forever when None).  A loop passes ``keep`` (a
    KeptLock of its own) to keep the lock file open between its passes.  A missing lock file is
    InvalidInput (65), never made anew; so is a study that is not where it was rendered (unless
    not ``placed``: mrender, which locks the study before moving it into place)."""
    root = os.fspath(root)
    path = os.path.join(root, LOCK_FILE)
    kept = keep if keep is not None else KeptLock()
    deadline = time.monotonic() + timeout if wait and timeout is not None else None
    try:
        while True:
            handle = _open(kept, root, path)
            if _try_lock(handle):
                if _names(path, handle, root):
                    break
                _unlock(handle)        # replaced while we locked it: lock the file that is there
                kept.close()
                continue
            if not wait or (deadline is not None and time.monotonic() >= deadline):
                raise _busy(root)
            time.sleep(WAIT_STEP)
        if placed:
            try:
                _check_recorded(root, handle.fileno())
            except BaseException:
                _unlock(handle)
                raise
        _refresh(handle)
        try:
            yield
        finally:
            _unlock(handle)
    finally:
        if keep is None:
            kept.close()


MAX_RECORDED = 8192   # bytes of the lock file read: the path recorded in it


def recorded_root(data: bytes) -> str | None:
    """The study root a lock file's content records, or None (an empty lock file)."""
    text = os.fsdecode(data).rstrip("\n")
    return text or None


def check_place(root: str) -> None:
    """InvalidInput (65) when the study at ``root`` was rendered elsewhere (moved or copied here);
    a missing or empty lock file records nothing and passes."""
    try:
        fd = os.open(os.path.join(os.fspath(root), LOCK_FILE), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _check_recorded(os.fspath(root), fd)
    finally:
        os.close(fd)


def _check_recorded(root: str, fd: int) -> None:
    import stat

    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return
    recorded = recorded_root(os.pread(fd, MAX_RECORDED, 0))
    if recorded is None or _same_place(recorded, root):
        return
    raise InvalidInput(f"{root}: this study was rendered in {recorded} and has been moved or copied; its "
                       f"scripts hold that path and would write there, so nothing runs it here: move it "
                       f"back to {recorded}, or render the spec again (maestro run, or mexpand | mrender)")


def _same_place(recorded: str, root: str) -> bool:
    try:
        return os.path.samefile(recorded, root)
    except OSError:
        return False      # the recorded place is gone: the study was moved


def _open(kept: KeptLock, root: str, path: str):
    """The lock file, open: the kept one while the path still names it, else opened (not made)."""
    if kept.handle is not None:
        try:
            if _same_file(os.stat(path), os.fstat(kept.handle.fileno())):
                return kept.handle
        except FileNotFoundError:
            pass
        kept.close()
    try:
        kept.handle = open(path, "r+b", buffering=0)
    except PermissionError:
        kept.handle = open(path, "rb", buffering=0)   # flock needs no write access on a local disk
    except (FileNotFoundError, NotADirectoryError):
        raise _missing(root, path) from None
    return kept.handle


def _names(path: str, handle, root: str) -> bool:
    """The path still names the locked file; a lock file deleted meanwhile stops the writer."""
    try:
        return _same_file(os.stat(path), os.fstat(handle.fileno()))
    except FileNotFoundError:
        _unlock(handle)
        raise _missing(root, path) from None


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _refresh(handle) -> None:
    try:
        if time.time() - os.fstat(handle.fileno()).st_mtime > REFRESH_AFTER:
            os.utime(handle.fileno())
    except OSError:
        pass   # a read-only lock file: the purge concern is the owner's


try:
    import fcntl
except ImportError:   # not POSIX: portalocker knows the platform's own lock
    fcntl = None


def _try_lock(handle) -> bool:
    """Take the lock without waiting: flock, portalocker's own primitive on POSIX, called
    directly because importing portalocker slows every command's start."""
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    import portalocker

    try:
        portalocker.lock(handle, portalocker.LOCK_EX | portalocker.LOCK_NB)
        return True
    except portalocker.exceptions.LockException:
        return False


def _unlock(handle) -> None:
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    else:
        import portalocker

        portalocker.unlock(handle)


def _busy(root: str) -> StateBusy:
    return StateBusy(f"{root}: another process holds the study lock ({LOCK_FILE}); "
                     "try again when it is done")


def _missing(root: str, path: str) -> InvalidInput:
    if not os.path.isfile(os.path.join(root, STATE_FILE)):
        return InvalidInput(f"{root}: not a study directory (no {LOCK_FILE})")
    return InvalidInput(f"{path}: the study lock file is missing (deleted by hand, or by a scratch "
                        "purge?), and no pass may run without it; if no conductor, mmonitor or msubmit "
                        f"of this study runs, restore it with: touch {path}")
