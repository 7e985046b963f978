"""Per-scheduler details the goldens do not pin: options, walltimes, errors."""

import pytest

from mshared.errors import InvalidInput
from mruntime.schedulers import registry
from mruntime.scripts import FORMATS, script_names, step_scripts
from mruntime.scripts.headers import comment_text, hms, walltime_seconds
from mruntime.schedulers.lsf import walltime as lsf_walltime


def step(**resources):
    return {"id": "s_P.1", "stem": "s_P.1", "description": "d", "scheduled": bool(
        resources.get("nodes") or resources.get("procs")), "resources": resources,
        "cmd": "$(LAUNCHER) a", "restart": None}


def script(batch, st, cmd=None):
    return step_scripts(st, batch, cmd or st["cmd"], st.get("restart"))[0][1]


@pytest.mark.parametrize("value, seconds", [
    (90, 5400), ("90", 5400), ("01:30:00", 5400.0), ("1:30", 90.0), ("2-01", 2 * 86400 + 3600.0),
    ("1-00:00:10", 86410.0), ("", None), ("inf", None), (None, None),
])
def test_walltime_seconds(value, seconds):
    assert walltime_seconds(value, {"id": "x"}) == seconds


@pytest.mark.parametrize("value", ["abc", "1:2:3:4", "x-1:00", "-5"])
def test_bad_walltimes(value):
    with pytest.raises(InvalidInput, match="walltime"):
        walltime_seconds(value, {"id": "x"})


def test_hms_rounds_up():
    assert hms(5445.2) == "01:30:46" and hms(90) == "00:01:30" and hms(100 * 3600) == "100:00:00"


@pytest.mark.parametrize("value, expected", [("01:30:45", "01:31"), ("00:59:01", "01:00"),
                                             ("01:30", "01:30"), (45, "45")])
def test_lsf_walltime_rounds_up_to_minutes(value, expected):
    assert lsf_walltime(value, {"id": "x"}) == expected


def test_comment_text():
    assert comment_text('a\r\nb\tc"d') == "a bc'd"
    assert comment_text(None) == ""
    assert comment_text("ends with a backslash\\") == "ends with a backslash\\\\"


# Descriptions that once broke, or could break, a quoted directive (campaign 2, F8).
HOSTILE_DESCRIPTIONS = ["ends with a backslash\\", 'has \\" inside', "a # hash", "%j and %x and %%",
                        "single ' quote", 'double " quote', "unicode é💥\u202e", "\\\\two\\\\",
                        "--time=99:00:00", "$(id) `id`", "two\nlines", "\\"]


def sbatch_argument(text: str) -> str:
    """What sbatch reads as the argument at the start of ``text`` (slurm src/sbatch/opt.c,
    _get_argument): quotes group, a backslash escapes the next character also inside quotes,
    an unquoted '#' starts a comment; an unmatched quote is fatal (ValueError here)."""
    out, quote, escaped = [], None, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
            continue
        elif quote:
            if ch == quote:
                quote = None
                continue
        elif ch in "\"'":
            quote = ch
            continue
        elif ch == "#" or ch.isspace():
            break
        out.append(ch)
    if quote:
        raise ValueError(f"Unmatched {quote} in [{text}]")
    return "".join(out)


@pytest.mark.parametrize("description", HOSTILE_DESCRIPTIONS)
def test_no_description_breaks_the_slurm_comment(description):
    st = step(procs=1)
    st["description"] = description
    (line,) = [ln for ln in script({"type": "slurm"}, st).splitlines() if ln.startswith("#SBATCH --comment ")]
    expected = " ".join(description.splitlines()).replace('"', "'")
    assert sbatch_argument(line[len("#SBATCH --comment "):]) == expected


@pytest.mark.parametrize("kind", ["lsf", "flux", "pbs"])
def test_descriptions_stay_out_of_the_other_schedulers_headers(kind):
    plain = step(nodes=1, procs=1)
    header = script({"type": kind}, plain).split("\n\n")[0]
    for description in HOSTILE_DESCRIPTIONS:
        st = dict(plain, description=description)
        assert script({"type": kind}, st).split("\n\n")[0] == header


def test_a_backslash_in_a_quoted_value_is_refused():
    # `#SBATCH --reservation="r\"` would never close its quote
    with pytest.raises(InvalidInput, match="contains a backslash"):
        script({"type": "slurm", "reservation": "r\\"}, step(procs=1))
    assert '--reservation="r1"' in script({"type": "slurm", "reservation": "r1"}, step(procs=1))


def test_slurm_ntasks_when_procs_is_in_the_batch_block():
    text = script({"type": "slurm", "queue": "q", "procs": 4}, step(nodes=2, procs=8))
    assert "#SBATCH --ntasks=8\n" in text and "#SBATCH --nodes=2\n" in text


def test_slurm_unscheduled_step_gets_only_the_shebang():
    text = script({"type": "slurm", "queue": "q"}, step(), "$(LAUNCHER) a")
    assert text == "#!/bin/bash\n\na\n"


def test_flux_exclusive_from_batch_args_and_step_override():
    batch = {"type": "flux", "allocation_args": {"x": None}, "launcher_args": {"exclusive": None}}
    text = script(batch, step(nodes=2, procs=4, cores_per_task=2))
    assert "#flux: --exclusive\n" in text and "#flux: -n" not in text
    assert "flux run -N 2 -n 4 --exclusive a" in text
    text = script(batch, step(nodes=2, procs=4, exclusive={"allocation": False, "launcher": False}))
    assert "#flux: -n 4\n" in text and "--exclusive" not in text


def test_flux_deprecated_args_join_the_setopt_group():
    text = script({"type": "flux", "args": {"mpi": "spectrum"}}, step(procs=2))
    assert "flux run -n 2 --setopt=mpi=spectrum a" in text


def test_flux_numeric_walltime_is_minutes():
    assert "#flux: -t 600s\n" in script({"type": "flux"}, step(procs=1, walltime=10))


def test_pbs_torque_style_and_errors():
    batch = {"type": "pbs", "resource_style": "nodes"}
    assert "#PBS -l nodes=2:ppn=6\n" in script(batch, step(nodes=2, procs=6, cores_per_task=2))
    assert "#PBS -l procs=5\n" in script(batch, step(procs=5))
    with pytest.raises(InvalidInput, match="resource_style"):
        script({"type": "pbs", "resource_style": "x"}, step(procs=1))
    with pytest.raises(InvalidInput, match="gpus under PBS needs run.nodes"):
        script({"type": "pbs"}, step(procs=2, gpus=1))


def test_pbs_launcher_template():
    assert "srun -n 4 -N 2 a" in script({"type": "pbs", "launcher": "srun -n {procs} -N {nodes}"},
                                        step(nodes=2, procs=4))
    with pytest.raises(InvalidInput, match="unknown placeholder {np}"):
        script({"type": "pbs", "launcher": "mpirun -np {np}"}, step(procs=4))
    with pytest.raises(InvalidInput, match="uses {nodes}"):
        script({"type": "pbs", "launcher": "x -N {nodes}"}, step(procs=4))


def test_pbs_job_name_starts_with_a_letter_or_digit():
    st = step(procs=1)
    st["stem"] = "_x y"
    assert "#PBS -N m_x_y\n" in script({"type": "pbs"}, st)


def test_lsf_and_pbs_job_names_ask_for_no_job_array():
    # LSF reads `-J sim[1-1000]` as an array of 1000 jobs; PBS's -N takes no brackets either
    st = step(nodes=1, procs=1)
    st["stem"] = "sim[1-1000]"
    lsf = script({"type": "lsf"}, st)
    assert "#BSUB -J sim_1-1000_\n" in lsf
    assert "#BSUB -o sim[1-1000].%J.out\n" in lsf        # logs keep the stem: mreport finds them
    assert "#PBS -N sim_1-1000_\n" in script({"type": "pbs"}, st)
    for kind, directive in (("lsf", "#BSUB -J"), ("pbs", "#PBS -N")):
        names = [ln for ln in script({"type": kind}, st).splitlines() if ln.startswith(directive)]
        assert names and not any(ch in ln for ln in names for ch in "[]")
    # SLURM and Flux quote the name: no array there, and the name stays as written
    assert '--job-name="sim[1-1000]"' in script({"type": "slurm"}, st)
    assert '--job-name="sim[1-1000]"' in script({"type": "flux"}, st)


def test_job_names_have_no_spaces():
    st = step(procs=1)
    st["stem"] = "a b"
    text = script({"type": "slurm"}, st)
    assert '--job-name="a_b"' in text and '--output="a_b.%j.out"' in text
    st["stem"] = "a%x"
    assert '--output="a%%x.%j.out"' in script({"type": "slurm"}, st)


@pytest.mark.parametrize("kind, ext", [("local", "sh"), ("slurm", "slurm.sh"), ("lsf", "lsf.sh"),
                                       ("flux", "flux.sh"), ("pbs", "pbs.sh")])
def test_script_names(kind, ext):
    st = {"stem": "a", "restart": "x"}
    assert script_names(st, kind) == (f"a.{ext}", f"a.restart.{ext}")
    assert script_names({"stem": "a"}, kind) == (f"a.{ext}", None)
    assert FORMATS[kind].extension == ext
    assert registry.get_adapter(kind).script_suffix == f".{ext}"
