"""Reading for mreport: the end of stderr files, and which file belongs to a step."""

import os

from mreport import load
from mreport.core import StudyFiles


def test_tail_reads_only_the_end(tmp_path):
    path = tmp_path / "big.err"
    path.write_bytes(b"".join(b"line %d %s\n" % (i, b"x" * 200) for i in range(5000)))
    lines = load.tail(str(path), 3)
    assert [line.split()[1] for line in lines] == ["4997", "4998", "4999"]
    assert len(load.tail(str(path), 1000)) == 1000          # more than one block back


def test_tail_of_short_empty_and_unterminated_files(tmp_path):
    (tmp_path / "a").write_text("one\ntwo")
    (tmp_path / "b").write_text("")
    (tmp_path / "c").write_bytes(b"caf\xe9\n")
    assert load.tail(str(tmp_path / "a"), 10) == ["one", "two"]
    assert load.tail(str(tmp_path / "b"), 10) == []
    assert load.tail(str(tmp_path / "c"), 10) == ["caf\ufffd"]


def _study(tmp_path, job_id):
    step = {"id": "s_P.1", "stem": "s_P.1", "workspace": "s/P.1"}
    os.makedirs(tmp_path / "s" / "P.1")
    state = {"steps": {"s_P.1": {"state": "FAILED", "job_id": job_id}}}
    return StudyFiles(str(tmp_path), state, {"steps": [step]})


def test_stderr_file_of_the_job_then_the_newest_of_the_step(tmp_path):
    study = _study(tmp_path, "42")
    ws = tmp_path / "s" / "P.1"
    assert load.stderr_tails(study, ["s_P.1"], 5) == {"s_P.1": {"path": None, "lines": []}}
    (ws / "s_P.1.7.err").write_text("old\n")
    (ws / "s_P.10.9.err").write_text("another step's\n")   # s_P.1* would wrongly match this
    os.utime(ws / "s_P.1.7.err", (1, 1))
    (ws / "s_P.1.err").write_text("maestro's slurm name\n")
    assert load.stderr_tails(study, ["s_P.1"], 5)["s_P.1"] == {"path": "s/P.1/s_P.1.err",
                                                              "lines": ["maestro's slurm name"]}
    (ws / "s_P.1.42.err").write_text("mine\n")
    os.utime(ws / "s_P.1.42.err", (1, 1))                   # older, but it is the job's own file
    assert load.stderr_tails(study, ["s_P.1"], 5)["s_P.1"] == {"path": "s/P.1/s_P.1.42.err", "lines": ["mine"]}
    assert load.stderr_tails(study, ["s_P.1"], 0)["s_P.1"]["lines"] == []
