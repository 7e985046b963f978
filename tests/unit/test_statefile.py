"""mshared.statefile: lock, atomic write, checksum, unchanged writes."""

import json
import os
from datetime import datetime, timezone

import pytest

from mshared import statefile
from mshared.errors import InvalidInput, StateBusy

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def make_state(**settings):
    study = {"name": "s", "root": "/r", "dag_sha256": "0" * 64, "scheduler": "local", "scripts_dir": None}
    return statefile.new_state(study, settings, ["a", "b_P.1"], NOW)


def test_new_state_shape():
    state = make_state(throttle=2)
    assert state["schema"] == "maestro.state" and state["version"] == 1
    assert state["study"]["created"] == state["updated"] == "2026-01-02T03:04:05Z"
    assert state["settings"] == {"throttle": 2, "attempts": 1, "rlimit": 1, "poll_interval": 60,
                                 "dry": False, "usetmp": False}
    assert state["requests"] == {"cancel": False}
    assert set(state["steps"]) == {"a", "b_P.1"}
    assert state["steps"]["a"]["state"] == "INITIALIZED"
    assert state["steps"]["a"]["jobs"] is not state["steps"]["b_P.1"]["jobs"]


def test_iso_utc_converts_and_refuses_naive_times():
    from mshared import times
    from datetime import timedelta

    assert times.iso_utc(datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-01T00:00:00Z"
    with pytest.raises(ValueError):
        times.iso_utc(datetime(2026, 1, 1))


def test_write_then_read_round_trip(tmp_path):
    state = make_state()
    assert statefile.write_state(tmp_path, state) is True
    doc = statefile.read_state(tmp_path)
    assert doc.pop("checksum") == statefile.checksum(state)
    assert doc == state
    assert os.listdir(tmp_path) == ["state.json"]          # no temp file left behind


def test_checksum_is_over_the_canonical_document_without_itself(tmp_path):
    statefile.write_state(tmp_path, make_state())
    raw = (tmp_path / "state.json").read_bytes()
    doc = json.loads(raw)
    stored = doc.pop("checksum")
    import hashlib

    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert stored == hashlib.sha256(canonical.encode()).hexdigest()


def test_truncated_file_is_refused(tmp_path):
    statefile.write_state(tmp_path, make_state())
    path = tmp_path / "state.json"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(InvalidInput, match="not valid JSON"):
        statefile.read_state(tmp_path)


def test_hand_edit_is_detected(tmp_path):
    statefile.write_state(tmp_path, make_state())
    path = tmp_path / "state.json"
    doc = json.loads(path.read_bytes())
    doc["steps"]["a"]["state"] = "FINISHED"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput, match="checksum mismatch"):
        statefile.read_state(tmp_path)


def test_missing_checksum_and_newer_version_are_refused(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({**make_state()}))
    with pytest.raises(InvalidInput, match="no checksum"):
        statefile.read_state(tmp_path)
    path.write_text(json.dumps({**make_state(), "version": 2}))
    with pytest.raises(InvalidInput, match="newer than this tool understands"):
        statefile.read_state(tmp_path)


def test_missing_state_file(tmp_path):
    with pytest.raises(InvalidInput, match="no state file"):
        statefile.read_state(tmp_path)


def test_unchanged_write_does_not_touch_the_file(tmp_path):
    state = make_state()
    statefile.write_state(tmp_path, state)
    path = tmp_path / "state.json"
    os.utime(path, (1_000_000, 1_000_000))
    inode = path.stat().st_ino
    assert statefile.write_state(tmp_path, statefile.read_state(tmp_path)) is False
    assert path.stat().st_mtime == 1_000_000 and path.stat().st_ino == inode


def test_changed_write_replaces_the_file_atomically(tmp_path):
    state = make_state()
    statefile.write_state(tmp_path, state)
    path = tmp_path / "state.json"
    inode = path.stat().st_ino
    state["steps"]["a"]["state"] = "PENDING"
    assert statefile.write_state(tmp_path, state) is True
    assert path.stat().st_ino != inode                      # a rename, not an in-place rewrite
    assert statefile.read_state(tmp_path)["steps"]["a"]["state"] == "PENDING"
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_written_file_respects_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        statefile.write_state(tmp_path, make_state())
    finally:
        os.umask(old)
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600


def test_lock_is_exclusive_and_busy_raises_state_busy(tmp_path):
    (tmp_path / "state.json.lock").touch()         # mrender makes it with the study
    with statefile.lock_study(tmp_path):
        assert (tmp_path / "state.json.lock").exists()
        with pytest.raises(StateBusy, match="another process holds the study lock") as info:
            with statefile.lock_study(tmp_path):
                pass
        assert info.value.exit_code == 75
        with pytest.raises(StateBusy):
            with statefile.lock_study(tmp_path, wait=True, timeout=0.3):
                pass
    with statefile.lock_study(tmp_path):    # released: free again
        pass


def test_lock_in_a_missing_directory(tmp_path):
    with pytest.raises(InvalidInput, match="not a study directory"):
        with statefile.lock_study(tmp_path / "nope"):
            pass


def test_state_matches_its_json_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    root = os.path.dirname(statefile.__file__)
    with open(os.path.join(root, "schemas", "state.v1.schema.json")) as handle:
        schema = json.load(handle)
    statefile.write_state(tmp_path, make_state())
    jsonschema.validate(json.loads((tmp_path / "state.json").read_bytes()), schema)


def test_no_writer_makes_a_missing_lock_file_and_the_message_says_how_to_restore_it(tmp_path):
    statefile.write_state(tmp_path, make_state())
    with pytest.raises(InvalidInput, match="lock file is missing.*touch .*state.json.lock"):
        with statefile.lock_study(tmp_path):
            pass
    with pytest.raises(InvalidInput, match="lock file is missing"):
        with statefile.lock_study(tmp_path, wait=True, timeout=0.2):
            pass
    assert not (tmp_path / "state.json.lock").exists()


def test_a_lock_file_deleted_under_a_holder_is_not_replaced_by_a_second_writer(tmp_path):
    statefile.write_state(tmp_path, make_state())
    lock = tmp_path / "state.json.lock"
    lock.touch()
    with statefile.lock_study(tmp_path):
        lock.unlink()                               # deleted while held
        with pytest.raises(InvalidInput, match="lock file is missing"):
            with statefile.lock_study(tmp_path):
                pass


def test_a_kept_lock_follows_a_replaced_file_and_stops_at_a_missing_one(tmp_path):
    statefile.write_state(tmp_path, make_state())
    lock = tmp_path / "state.json.lock"
    lock.touch()
    kept = statefile.KeptLock()
    with statefile.lock_study(tmp_path, keep=kept):
        pass
    lock.unlink()
    with pytest.raises(InvalidInput, match="lock file is missing"):
        with statefile.lock_study(tmp_path, keep=kept):
            pass
    lock.touch()                                    # restored by hand: the new file is locked
    with statefile.lock_study(tmp_path, keep=kept):
        assert os.fstat(kept.handle.fileno()).st_ino == lock.stat().st_ino
    kept.close()


def test_an_old_lock_file_is_refreshed_so_purges_by_age_leave_it(tmp_path):
    lock = tmp_path / "state.json.lock"
    lock.touch()
    os.utime(lock, (1, 1))
    with statefile.lock_study(tmp_path):
        pass
    assert lock.stat().st_mtime > 10 ** 9


@pytest.mark.parametrize("size", [100, 3 << 20], ids=["small", "hashed-in-a-thread"])
def test_hashing_while_parsing_gives_the_plain_sha256(size):
    """loads_hashed hashes in a second thread while the first parses (a fast path for large
    state files): the digest is the plain sha256 of the same bytes."""
    import hashlib

    from mshared.jsonio import dumps, loads_hashed

    data = dumps({"x": "y" * size})
    doc, digest = loads_hashed(data, b"{", 1)
    assert doc == {"x": "y" * size}
    assert digest == hashlib.sha256(b"{" + data[1:]).hexdigest()


@pytest.mark.parametrize("kind", ["symlink to /dev/zero", "FIFO", "directory"])
def test_a_state_file_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    """Issue 15, F10: a state.json symlinked to /dev/zero grew mmonitor to 2.7 GB; a FIFO hung it."""
    path = tmp_path / "state.json"
    {"symlink to /dev/zero": lambda: os.symlink("/dev/zero", path), "FIFO": lambda: os.mkfifo(path),
     "directory": lambda: os.mkdir(path)}[kind]()
    with pytest.raises(InvalidInput, match="not a regular file"):
        statefile.read_state(tmp_path)
    assert statefile.head_checksum(tmp_path) is None


def test_a_state_file_over_the_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    statefile.write_state(tmp_path, make_state())
    monkeypatch.setattr(statefile, "MAX_STATE_BYTES", 100)
    with pytest.raises(InvalidInput, match="larger than 100 bytes"):
        statefile.read_state(tmp_path)
