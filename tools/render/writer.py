"""Carry out a render Plan on the file system.

The study is built in a hidden sibling directory and renamed into place at the end, so a failure
(a bad dependency, a full disk, Ctrl-C) leaves nothing that a re-run would trip on; the only thing
removed on failure is that directory, which this run created.  Existing user data is never
deleted: with --force an occupied target is renamed to `<DIR>.old-<stamp>`.

Files are written with os.open/os.write relative to a directory descriptor, with their mode given
at creation (the kernel applies the umask), and without fsync except for state.json: this loop
writes one script per step instance and dominates the time of a large render.

A render killed with SIGKILL cannot remove its hidden directory (`.<name>.<random>.mrender-tmp`,
and the same for a git dependency staged outside the study).  Each render holds a flock on its
own while it runs, and before it starts sweeps the ones in the same parent that match that
pattern, belong to this user, are older than SWEEP_AGE and whose lock is free: left by a render
that died.  Nothing else is ever removed.
"""

import errno
import fcntl
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

from mshared import statefile
from mshared.errors import InvalidInput, MError
from mshared.jsonio import current_umask

from .aside import check_movable

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
DIR_MODE = 0o775      # minus the umask, as mkdir does; never world-writable
FILE_MODE = 0o664
SCRIPT_MODE = 0o755
TEMP_SUFFIX = ".mrender-tmp"
# tempfile.mkdtemp's names: "." + our prefix, 8 random characters, our suffix
_LEFTOVER = re.compile(r"\..+\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))
SWEEP_AGE = 300             # seconds: a leftover this old whose lock is free was left by a dead render
SWEEP_AGE_UNLOCKED = 3600   # where the file system cannot lock a directory, age alone decides


def occupied(path: str) -> bool:
    """True when ``path`` exists and is anything but an empty real directory."""
    if not os.path.lexists(path):
        return False
    if os.path.islink(path) or not os.path.isdir(path):
        return True
    with os.scandir(path) as entries:
        return any(True for _ in entries)


def check_target(final: str, force: bool) -> None:
    """An occupied ``final`` is refused, or with ``force`` checked before it is moved aside
    (mrender.aside: never the working directory, a study that runs or has not ended)."""
    if not occupied(final):
        return
    if not force:
        raise InvalidInput(f"output directory '{final}' exists and is not empty; use --force to move "
                           "it aside (nothing is deleted) or choose another with -o")
    check_movable(final)


def check_paths(plan) -> None:
    for dep in plan.path_deps:
        if not os.path.exists(dep["path"]):
            raise InvalidInput(f"path dependency '{dep['name']}' ({dep['path']}) does not exist")


def carry_out(plan, final: str, *, force: bool, stamp: str, git=None) -> str:
    """Write ``plan`` as the study directory ``final`` (== plan.root); returns ``final``."""
    git = git or clone_git
    check_paths(plan)
    check_target(final, force)
    outside = [dep for dep in plan.git_deps if not _inside(dep["dest"], final)]
    for dep in outside:
        if os.path.lexists(dep["dest"]):
            raise InvalidInput(f"git dependency '{dep['name']}': destination '{dep['dest']}' already "
                               "exists; remove it or change the dependency's path")
    parent = os.path.dirname(final)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as err:
        raise InvalidInput(f"cannot create the output directory '{parent}': {err.strerror}") from None
    sweep_leftovers(parent)
    tmp, lock = _temporary(f".{os.path.basename(final)}.", parent)
    ours, locks = [tmp], [lock]
    try:
        scripts_dir = tmp
        if plan.flat_scripts:    # --usetmp: scripts go to a directory of their own, as Maestro
            scripts_dir = tempfile.mkdtemp(prefix="mrender-scripts-")
            ours.append(scripts_dir)
            os.chmod(scripts_dir, DIR_MODE & ~current_umask())
            plan.state["study"]["scripts_dir"] = scripts_dir
        write_tree(tmp, plan.dirs, plan.files, FILE_MODE)
        write_tree(scripts_dir, [], plan.scripts, SCRIPT_MODE)
        if plan.copies:   # reused instances: their files from the old study (mrender.bringover)
            from .bringover import bring_over

            bring_over(tmp, plan.copies)
        staged = []
        for dep in plan.git_deps:
            if dep in outside:
                where = _existing_parent(dep["dest"])
                sweep_leftovers(where)
                holder, held = _temporary(f".{dep['name']}.", where)
                ours.append(holder)
                locks.append(held)
                target = os.path.join(holder, "clone")    # git clone creates it
                staged.append((target, dep["dest"]))
            else:
                target = os.path.join(tmp, os.path.relpath(dep["dest"], final))
                if os.path.lexists(target):
                    raise InvalidInput(f"git dependency '{dep['name']}': '{dep['dest']}' is also a "
                                       "workspace or file of the study; change the dependency's path")
                os.makedirs(os.path.dirname(target), exist_ok=True)
            git(dep, target)
        with statefile.lock_study(tmp, placed=False):    # it records ``final``, where it goes
            statefile.write_state(tmp, plan.state, FILE_MODE & ~current_umask())
        os.chmod(tmp, DIR_MODE & ~current_umask())
        if force and occupied(final):
            os.rename(final, _aside_name(final, stamp))
        for target, dest in staged:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.rename(target, dest)
            os.rmdir(os.path.dirname(target))
            ours.append(dest)          # still ours to remove until the study itself is in place
        try:
            os.rename(tmp, final)
        except OSError as err:   # another render took the name since check_target
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                check_target(final, force=False)
            raise
    except BaseException as err:
        for path in ours:
            shutil.rmtree(path, ignore_errors=True)
        if isinstance(err, OSError):   # disk full, permissions: a runtime failure, not bad input
            raise MError(f"cannot write the study to '{final}': {err.strerror or err}") from None
        raise
    finally:
        for fd in locks:
            if fd is not None:
                os.close(fd)
    return final


def _temporary(prefix: str, parent: str) -> tuple[str, int | None]:
    """A new hidden directory in ``parent`` and a descriptor holding a flock on it (None where
    the file system cannot lock it), so that no other render sweeps it while this one runs."""
    path = tempfile.mkdtemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=parent)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        fd = None
    return path, fd


def sweep_leftovers(parent: str, now: float | None = None) -> list[str]:
    """Remove the hidden directories of dead renders in ``parent`` (see the module docstring);
    returns their paths.  Best effort: anything it cannot look at or remove stays."""
    now = time.time() if now is None else now
    swept = []
    try:
        names = [n for n in os.listdir(parent) if _LEFTOVER.fullmatch(n)]
    except OSError:
        return swept
    for name in names:
        path = os.path.join(parent, name)
        try:
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                continue
            if now - info.st_mtime > SWEEP_AGE and _abandoned(path, now - info.st_mtime):
                shutil.rmtree(path)
                swept.append(path)
        except OSError:
            continue
    return swept


def _abandoned(path: str, age: float) -> bool:
    """No render holds this directory's lock (or, where locks do not work, it is very old)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:
        return age > SWEEP_AGE_UNLOCKED
    finally:
        os.close(fd)


def write_tree(base: str, dirs, files, mode: int) -> None:
    """mkdir ``dirs`` then create ``files`` [(relative path, bytes)] under ``base``."""
    fd_root = os.open(base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    mkdir, open_, write, close = os.mkdir, os.open, os.write, os.close
    try:
        for path in dirs:
            mkdir(path, DIR_MODE, dir_fd=fd_root)
        for path, data in files:
            fd = open_(path, _FLAGS, mode, dir_fd=fd_root)
            try:
                done = write(fd, data)
                while done < len(data):
                    done += write(fd, data[done:])
            finally:
                close(fd)
    finally:
        close(fd_root)


def clone_git(dep: dict, dest: str) -> None:
    """`git clone -- url dest`, then check out hash, tags/<tag>, branch as given (Maestro's order).
    The url and the refs are never read as options: '--' ends them, and render refused any that
    starts with '-' (mrender.core)."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    _git(["git", "clone", "--quiet", "--", dep["url"], dest], dep, f"cloning {dep['url']}", env)
    for key, ref in (("hash", dep.get("hash")), ("tag", dep.get("tag") and f"tags/{dep['tag']}"),
                     ("branch", dep.get("branch"))):
        if ref:
            _git(["git", "-C", dest, "-c", "advice.detachedHead=false", "checkout", "--quiet", ref, "--"],
                 dep, f"checking out {key} '{dep[key]}'", env)


def _git(argv, dep, doing, env) -> None:
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, check=False)
    except FileNotFoundError:
        raise MError(f"git dependency '{dep['name']}' needs git, which is not installed") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"git exited with {proc.returncode}"
        raise InvalidInput(f"git dependency '{dep['name']}': {doing} failed: {last}")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _existing_parent(path: str) -> str:
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    return parent


def _aside_name(final: str, stamp: str) -> str:
    name, n = f"{final}.old-{stamp}", 1
    while os.path.lexists(name):
        name, n = f"{final}.old-{stamp}-{n}", n + 1
    return name
