"""The loop keeps a study going through a scheduler outage, and says when it starts and ends."""

from mruntime.engine import loop
from mruntime.engine.passes import PassResult
from mshared.errors import SchedulerUnavailable


def test_an_outage_is_reported_once_and_the_loop_goes_on(monkeypatch):
    answers = iter(["down", "down", "RUNNING", "FINISHED"])

    def fake_pass(root, **kwargs):
        answer = next(answers)
        if answer == "down":
            raise SchedulerUnavailable("SLURM controller is not reachable")
        result = PassResult([], answer, 0, 0)
        result.poll_interval = 0
        return result

    monkeypatch.setattr(loop, "run_pass", fake_pass)
    told = []
    statuses = loop.run_loop(["/study"], sleep=lambda s: None, on_outage=lambda r, m: told.append(m))
    assert statuses == {"/study": "FINISHED"}
    assert told == ["SLURM controller is not reachable", None]
    assert loop.exit_code(statuses) == 0


def _study(tmp_path, cmd, count):
    """A rendered study of ``count`` independent local steps running ``cmd``."""
    from datetime import datetime, timezone

    from maestro_cli import launch

    steps = "\n".join(f"  - {{name: s{i}, description: d, run: {{cmd: '{cmd}'}}}}" for i in range(count))
    spec = tmp_path / "spec.yaml"
    spec.write_text("description: {name: quick, description: d}\nstudy:\n" + steps + "\n")
    dag, _ = launch.expand_spec(str(spec), pgen=None, pargs=(), hashws=False)
    settings = {"throttle": 0, "attempts": 1, "rlimit": 1, "poll_interval": 60, "dry": False, "usetmp": False}
    return launch.render_study(dag, str(tmp_path / "study"), settings, force=False,
                               now=datetime.now(timezone.utc))


def _slots_asked(monkeypatch, root):
    asked, real = [], loop.run_pass

    def recording_pass(root, **kwargs):
        asked.append(kwargs["local_slots"])
        return real(root, **kwargs)

    monkeypatch.setattr(loop, "run_pass", recording_pass)
    assert loop.run_loop([root]) == {root: "FINISHED"}
    return asked


def test_short_local_jobs_get_one_more_in_flight_than_there_are_cores(monkeypatch, tmp_path):
    import os

    asked = _slots_asked(monkeypatch, _study(tmp_path, "true", 16))
    cores = os.cpu_count() or 1
    assert asked[0] == cores                  # nothing is known of the jobs yet
    assert asked[-1] == cores + 1             # four ended, each well under a quarter second


def test_long_local_jobs_get_one_core_each(monkeypatch, tmp_path):
    import os

    asked = _slots_asked(monkeypatch, _study(tmp_path, "sleep 0.3", 6))
    assert set(asked) == {os.cpu_count() or 1}
