"""Bringing a reused workspace over (mrender.bringover): a file of its own for every file, never a
hard link, so that neither study can change the other's files later."""

import errno
import os
import stat

import pytest

from mrender import bringover


@pytest.fixture
def old(tmp_path):
    ws = tmp_path / "old" / "sim" / "X.1"
    (ws / "sub").mkdir(parents=True)
    (ws / "out.txt").write_text("result\n")
    (ws / "big.bin").write_bytes(os.urandom(3 << 20))
    (ws / "empty").write_text("")
    (ws / "sub" / "deep.txt").write_text("deep\n")
    (ws / "run.sh").write_text("old script\n")
    os.chmod(ws / "out.txt", 0o640)
    os.symlink("out.txt", ws / "link")
    os.mkfifo(ws / "fifo")
    os.utime(ws / "out.txt", ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    return ws


def test_every_file_is_copied_with_its_mode_and_time(tmp_path, old):
    new = tmp_path / "new"
    (new / "ws").mkdir(parents=True)
    (new / "ws" / "run.sh").write_text("new script\n")
    copier = bringover.bring_over(str(new), [(str(old), "ws", ("skipped",))])
    ws = new / "ws"
    assert sorted(os.listdir(ws)) == ["big.bin", "empty", "link", "out.txt", "run.sh", "sub"]   # no fifo
    assert (ws / "out.txt").read_text() == "result\n" and (ws / "sub" / "deep.txt").read_text() == "deep\n"
    assert (ws / "big.bin").read_bytes() == (old / "big.bin").read_bytes()
    assert (ws / "run.sh").read_text() == "new script\n"          # what the new study wrote is kept
    assert stat.S_IMODE((ws / "out.txt").stat().st_mode) == 0o640
    assert (ws / "out.txt").stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert os.readlink(ws / "link") == "out.txt"
    assert copier.files == 4                                  # links are not counted


def test_the_copies_are_files_of_their_own(tmp_path, old):
    new = tmp_path / "new"
    bringover.bring_over(str(new), [(str(old), "ws", ())])
    copy = new / "ws" / "out.txt"
    assert copy.stat().st_ino != (old / "out.txt").stat().st_ino and copy.stat().st_nlink == 1
    os.chmod(old / "out.txt", 0o644)
    with open(old / "out.txt", "a") as handle:        # the old study changes later...
        handle.write("more\n")
    assert copy.read_text() == "result\n"             # ...the reused workspace does not
    with open(copy, "a") as handle:                   # and the other way round
        handle.write("new\n")
    assert (old / "out.txt").read_text() == "result\nmore\n"


def test_names_to_leave_are_left(tmp_path, old):
    new = tmp_path / "new"
    bringover.bring_over(str(new), [(str(old), "ws", ("run.sh", "sub"))])
    assert not (new / "ws" / "run.sh").exists() and not (new / "ws" / "sub").exists()


def test_a_file_system_without_reflinks_is_asked_once(tmp_path, old, monkeypatch):
    calls = []

    def refuse(fd, request, arg):
        calls.append(request)
        raise OSError(errno.EOPNOTSUPP, "not supported")

    monkeypatch.setattr(bringover.fcntl, "ioctl", refuse)
    copier = bringover.bring_over(str(tmp_path / "new"), [(str(old), "a", ()), (str(old), "b", ())])
    assert calls == [bringover.FICLONE] and copier.cloned == 0
    assert (tmp_path / "new" / "b" / "big.bin").read_bytes() == (old / "big.bin").read_bytes()


def test_a_reflink_is_used_where_the_file_system_makes_one(tmp_path, old, monkeypatch):
    def clone(fd, request, src):          # stands in for FICLONE on XFS or Btrfs: the same bytes
        os.lseek(src, 0, os.SEEK_SET)
        os.write(fd, os.read(src, 1 << 23))

    monkeypatch.setattr(bringover.fcntl, "ioctl", clone)
    copier = bringover.bring_over(str(tmp_path / "new"), [(str(old), "ws", ())])
    assert copier.cloned == 4                          # the files with bytes; an empty one needs none
    assert (tmp_path / "new" / "ws" / "big.bin").read_bytes() == (old / "big.bin").read_bytes()


def test_without_copy_file_range_the_bytes_are_read_and_written(tmp_path, old, monkeypatch):
    def cross(*args):
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(bringover.os, "copy_file_range", cross)
    monkeypatch.setattr(bringover.fcntl, "ioctl", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOTTY, "no")))
    bringover.bring_over(str(tmp_path / "new"), [(str(old), "ws", ())])
    assert (tmp_path / "new" / "ws" / "big.bin").read_bytes() == (old / "big.bin").read_bytes()


def test_a_workspace_that_never_existed_brings_nothing(tmp_path):
    copier = bringover.bring_over(str(tmp_path / "new"), [(str(tmp_path / "gone"), "ws", ())])
    assert copier.files == 0 and (tmp_path / "new" / "ws").is_dir()


def test_an_unreadable_old_file_is_the_old_studys_problem(tmp_path, old, monkeypatch):
    from mshared.errors import InvalidInput

    real_open = os.open

    def guarded(path, flags, *args, **kwargs):
        if str(path).endswith("X.1/out.txt"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(bringover.os, "open", guarded)
    with pytest.raises(InvalidInput, match=r"--reuse: cannot read '.*out.txt' of the old study: Permission denied"):
        bringover.bring_over(str(tmp_path / "new"), [(str(old), "ws", ())])


def test_an_unreadable_old_workspace_is_one_clear_error(tmp_path, old, monkeypatch):
    from mshared.errors import InvalidInput

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(bringover.os, "scandir", refuse)
    with pytest.raises(InvalidInput, match=r"--reuse: cannot read '.*X.1' of the old study: Permission denied"):
        bringover.bring_over(str(tmp_path / "new"), [(str(old), "ws", ())])
