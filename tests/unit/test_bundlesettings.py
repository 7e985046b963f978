"""mshared.bundlesettings: the bundle block checked and normalised, the command line's override
parsed, merged and checked, and which steps can fit (docs/bundles.md, "Settings")."""

import pytest

from mshared import bundlesettings as bs
from mshared.errors import InvalidInput

BLOCK = {"nodes": 2, "walltime": "01:00:00", "allocations": 3}


def step(name, ident=None, *, scheduled=True, **resources):
    return {"id": ident or name, "step": name, "scheduled": scheduled, "resources": resources}


def refused(call, *needles):
    with pytest.raises(InvalidInput) as err:
        call()
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


# ------------------------------------------------------------------ normalize
def test_normalize_fills_the_defaults_and_gives_the_walltime_in_seconds():
    assert bs.normalize(BLOCK) == {"nodes": 2, "walltime": 3600, "allocations": 3, "cores": None, "gpus": 0,
                                   "steps": None, "linger": 30, "margin": 30}


@pytest.mark.parametrize("wall,secs", [(90, 5400), ("90", 5400), ("1:30", 90), ("02:00:00", 7200),
                                       ("1-00:00:00", 86400), ("1-2", 93600), (0.5, 30)])
def test_walltimes_read_as_slurm_reads_them(wall, secs):
    assert bs.normalize({**BLOCK, "walltime": wall, "margin": 0})["walltime"] == secs


def test_numbers_given_as_text_are_numbers_and_steps_a_list():
    out = bs.normalize({**BLOCK, "nodes": " 4 ", "steps": "sim"})
    assert out["nodes"] == 4 and out["steps"] == ["sim"]
    assert bs.normalize({**BLOCK, "steps": ["a", "b", "a"]})["steps"] == ["a", "b"]


@pytest.mark.parametrize("block,needles", [
    ({**BLOCK, "nodes": 0}, ("bundle.nodes", "0", "at least 1")),
    ({**BLOCK, "allocations": True}, ("bundle.allocations",)),
    ({**BLOCK, "gpus": -1}, ("bundle.gpus",)),
    ({**BLOCK, "cores": 2.5}, ("bundle.cores",)),
    ({**BLOCK, "nodes": "²"}, ("bundle.nodes",)),          # isdigit() says yes, int() says no
    ({**BLOCK, "tasks": 3}, ("bundle", "unknown key 'tasks'")),
    ({"nodes": 1, "walltime": 60}, ("'allocations' is missing",)),
    ({**BLOCK, "walltime": "soon"}, ("bundle.walltime", "soon")),
    ({**BLOCK, "walltime": "nan"}, ("bundle.walltime",)),
    ({**BLOCK, "walltime": "inf:00"}, ("bundle.walltime",)),
    ({**BLOCK, "walltime": "1e999"}, ("bundle.walltime",)),
    ({**BLOCK, "walltime": 10 ** 400}, ("bundle.walltime",)),
    ({**BLOCK, "walltime": True}, ("bundle.walltime",)),
    ({**BLOCK, "walltime": "00:00:00"}, ("bundle.walltime", "at least a second")),
    ({**BLOCK, "margin": 3600}, ("bundle.margin",)),
    ({**BLOCK, "steps": []}, ("bundle.steps",)),
    ({**BLOCK, "steps": [1]}, ("bundle.steps",)),
    ([1, 2], ("bundle must be a mapping",)),
])
def test_normalize_refuses_with_one_line_naming_the_key(block, needles):
    refused(lambda: bs.normalize(block, "bundle"), *needles)


# ------------------------------------------------------------------ check_steps
SETTINGS = bs.normalize(BLOCK)      # 3600 s, margin 30 s, no core limit


def test_a_step_that_fits_passes():
    bs.check_steps(SETTINGS, [step("sim", procs=1, walltime="00:10:00"), step("prep", scheduled=False)])


def test_a_walltime_shorter_than_the_shortest_step_is_refused():
    steps = [step("a", walltime="02:00:00"), step("b", walltime="01:30:00")]
    refused(lambda: bs.check_steps(SETTINGS, steps, "s.yaml: bundle"),
            "s.yaml: bundle.walltime", "5400 s", "shortest step")


def test_a_step_without_a_walltime_fits_any_allocation():
    bs.check_steps(SETTINGS, [step("a", walltime="02:00:00"), step("b", procs=2)])


def test_the_margin_counts_against_the_walltime():
    refused(lambda: bs.check_steps(SETTINGS, [step("a", walltime=60)]), "bundle.walltime")   # 3600 > 3570


def test_no_step_that_fits_at_all_is_refused():
    refused(lambda: bs.check_steps(SETTINGS, [step("wide", nodes=4)]), "bundle", "no step", "4 nodes")


def test_a_study_with_no_scheduled_step_is_refused():
    refused(lambda: bs.check_steps(SETTINGS, [step("a", scheduled=False)]), "bundle", "nodes or procs")


def test_no_instances_yet_checks_nothing():
    bs.check_steps(SETTINGS, [])


@pytest.mark.parametrize("names,steps,needles", [
    (["nope"], [step("sim", procs=1)], ("bundle.steps", "no step 'nope'")),
    (["prep"], [step("prep", scheduled=False), step("sim", procs=1)], ("bundle.steps", "'prep'", "locally")),
    (["sim"], [step("sim", "sim_1", procs=1), step("sim", "sim_2", procs=1, gpus=1)],
     ("bundle.steps", "'sim_2'", "can never fit", "GPUs")),
    (["sim"], [step("sim", cores_per_task=8, procs=8)], ("bundle.steps", "64 cores")),
])
def test_named_steps_must_exist_run_on_the_scheduler_and_fit(names, steps, needles):
    settings = {**SETTINGS, "steps": names, "cores": 36}
    refused(lambda: bs.check_steps(settings, steps), *needles)


def test_named_steps_that_fit_pass_even_when_others_do_not():
    settings = {**SETTINGS, "steps": ["sim"]}
    bs.check_steps(settings, [step("sim", procs=1), step("big", nodes=8)])


def test_bundled_follows_the_rules():
    settings = {**SETTINGS, "cores": 4, "gpus": 1}
    assert bs.bundled(step("a", procs=4, gpus=1, walltime="00:30:00"), settings)
    assert not bs.bundled(step("a", procs=5), settings)
    assert not bs.bundled(step("a", nodes=2), settings)
    assert not bs.bundled(step("a", scheduled=False), settings)
    assert not bs.bundled(step("a", procs=1), None)
    assert not bs.bundled(step("a", procs=1), {**settings, "steps": ["b"]})


# ------------------------------------------------------------------ effective
def test_effective_without_an_override_is_the_spec_block():
    assert bs.effective(SETTINGS, None) is SETTINGS
    assert bs.effective(None, None) is None


def test_an_override_keeps_the_spec_walltime_in_seconds():
    # the spec's walltime is in seconds already: it must not be read again as minutes
    out = bs.effective(SETTINGS, {"allocations": 5})
    assert out == {**SETTINGS, "allocations": 5}


def test_an_override_replaces_keys_and_reads_its_own_walltime():
    out = bs.effective(SETTINGS, {"walltime": "2:00:00", "steps": ["sim"]})
    assert out["walltime"] == 7200 and out["steps"] == ["sim"] and out["nodes"] == 2


def test_off_turns_the_bundle_off():
    assert bs.effective(SETTINGS, {"off": True}) is None
    assert bs.effective(None, {"off": True}) is None


def test_an_incomplete_override_of_a_study_without_a_block_is_refused():
    refused(lambda: bs.effective(None, {"allocations": 2}, "--bundle"),
            "--bundle", "no bundle block", "missing: nodes, walltime")
    assert bs.effective(None, {"nodes": 1, "walltime": 30, "allocations": 1})["walltime"] == 1800


def test_a_bad_override_value_names_where():
    refused(lambda: bs.effective(SETTINGS, {"nodes": 0}, "--bundle"), "--bundle.nodes")
    refused(lambda: bs.effective(SETTINGS, {"margin": 4000}), "bundle override in state.json.margin")


def test_clock_is_read_back_as_the_same_seconds():
    for total in (1, 59, 3600, 86399, 90061, 10 ** 7):
        assert bs.seconds(bs.clock(total), "x") == total


# ------------------------------------------------------------------ the command line's override
def test_parse_override():
    assert bs.parse_override(["nodes=4", "walltime=2:00:00", "steps=a, b,a", "gpus=0", "nodes=5"]) == {
        "nodes": 5, "walltime": "2:00:00", "steps": ["a", "b"], "gpus": 0}
    assert bs.parse_override([]) == {}


@pytest.mark.parametrize("item,needles", [
    ("nodes", ("--bundle 'nodes'", "KEY=VALUE")),
    ("=3", ("KEY=VALUE",)),
    ("tasks=3", ("unknown key 'tasks'",)),
    ("off=1", ("--no-bundle",)),
    ("nodes=two", ("nodes must be a whole number",)),
    ("nodes=1.5", ("nodes",)),
    ("steps=,", ("steps",)),
    ("walltime=", ("walltime",)),
])
def test_parse_override_refuses_with_one_line(item, needles):
    refused(lambda: bs.parse_override([item]), *needles)


def test_merge_override():
    assert bs.merge_override(None, {"nodes": 2}) == {"nodes": 2}
    assert bs.merge_override({"nodes": 2}, {"allocations": 3}) == {"nodes": 2, "allocations": 3}
    assert bs.merge_override({"nodes": 2}, {"off": True}) == {"off": True}
    assert bs.merge_override({"off": True}, {"allocations": 3}) == {"allocations": 3}
    assert bs.merge_override({"nodes": 2}, None) == {"nodes": 2}


@pytest.mark.parametrize("override", [{"off": True}, {"nodes": 2, "walltime": "1:00:00", "steps": ["a"]},
                                      {"walltime": 60}, None])
def test_check_override_takes_what_parse_override_makes(override):
    bs.check_override(override)


@pytest.mark.parametrize("override", [{}, [], {"off": False}, {"off": True, "nodes": 1}, {"tasks": 1},
                                      {"nodes": "2"}, {"nodes": True}, {"walltime": ""}, {"steps": "a"},
                                      {"steps": []}])
def test_check_override_refuses_other_shapes(override):
    refused(lambda: bs.check_override(override), "settings.bundle")


def test_check_normalized():
    bs.check_normalized(SETTINGS)
    bs.check_normalized(bs.normalize({**BLOCK, "cores": 8, "steps": ["a"]}))
    for bad in ({**SETTINGS, "extra": 1}, {k: v for k, v in SETTINGS.items() if k != "gpus"},
                {**SETTINGS, "walltime": "1:00:00"}, {**SETTINGS, "nodes": 0}, {**SETTINGS, "margin": 3600},
                {**SETTINGS, "steps": []}, {**SETTINGS, "cores": 0}, {**SETTINGS, "linger": None}, "x"):
        refused(lambda: bs.check_normalized(bad, "dag.json: study.bundle"), "dag.json: study.bundle")


def test_check_study_refuses_a_bundle_without_a_batch_scheduler_and_steps_that_cannot_fit():
    steps = [step("sim", procs=1, walltime=10)]
    local = {"batch": {"type": "local"}}
    slurm = {"batch": {"type": "slurm"}, "bundle": SETTINGS}
    full = {"nodes": 1, "walltime": 60, "allocations": 1}
    refused(lambda: bs.check_study(local, steps, full, "--bundle"), "--bundle", "batch scheduler")
    assert bs.check_study(local, steps, None, "--bundle") is None
    assert bs.check_study(local, steps, {"off": True}, "--bundle") is None
    assert bs.check_study(slurm, steps, {"allocations": 9}, "--bundle")["allocations"] == 9
    refused(lambda: bs.check_study(slurm, steps, {"steps": ["nope"]}, "--bundle"), "--bundle.steps", "nope")
    refused(lambda: bs.check_study(slurm, steps, {"walltime": 5}, "--bundle"), "--bundle.walltime")
