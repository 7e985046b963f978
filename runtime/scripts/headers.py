"""What the per-scheduler script headers share: safe header values, job names, walltimes.

Header lines are built from user data (batch block, step resources, description).  A line break
in any of them would start a new directive, so every value goes through ``header_value`` (refuse)
or ``comment_text`` (clean); job and file names come from the DAG's filename-safe ``stem``.

A bundle's allocation script (``Scheduler.allocation``) has its header from the same values and
the body every scheduler's allocation shares (``allocation_script``).
"""

import math
import os
import re
import shlex

from mshared.bundlesettings import seconds as parse_walltime
from mshared.errors import InvalidInput

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s")


def header_value(value, what: str, step: dict, quoted: bool = False, spaces: bool = False) -> str:
    """``value`` as text for a directive; refuse what would break the header line.

    An unquoted value may not contain white space either: `queue: "debug --account=x"` would
    otherwise add an option of the user's choosing to the directive (sbatch reads several options
    on one #SBATCH line).  ``spaces`` is for command lines written into the script body.
    """
    text = str(value)
    # in a quoted value a backslash escapes the next character (sbatch): `"x\"` never closes
    if _CONTROL.search(text) or (quoted and ('"' in text or "\\" in text)):
        bad = ("a line break or control character" if _CONTROL.search(text)
               else "a quote" if '"' in text else "a backslash")
        raise InvalidInput(f"{owner(step)}: {what} {text!r} contains {bad}, which cannot go "
                           "in a scheduler header")
    if not quoted and not spaces and any(ch.isspace() for ch in text):
        raise InvalidInput(f"{owner(step)}: {what} {text!r} contains white space, which would "
                           "add options to the scheduler header; remove it")
    return text


def owner(step: dict) -> str:
    """Whose value an error is about: "step 'id'", or what ``allocation_owner`` says."""
    return step.get("owner") or f"step '{step['id']}'"


def comment_text(text: str | None) -> str:
    """A description as the inside of a double-quoted directive value, on one line: line breaks
    become spaces (as Maestro), other control characters go, double quotes become single quotes,
    and backslashes are doubled.  sbatch reads a backslash as escaping the next character, also
    inside quotes, so `"ends with a backslash\\"` would never close (sbatch refuses the script);
    doubled, the scheduler stores the description's own backslashes."""
    if not text:
        return ""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROL.sub("", text).replace("\\", "\\\\").replace('"', "'")


def job_name(step: dict) -> str:
    """Maestro's job name, the step name with spaces as '_'; ours starts from the safe stem."""
    return _SPACE.sub("_", step["stem"])


def array_safe(name: str) -> str:
    """A job name that asks for no job array: LSF reads `-J name[1-1000]` as an array of 1000 jobs
    (Maestro writes the step name as it is), and PBS's -N takes no brackets either."""
    return name.replace("[", "_").replace("]", "_")


def resources(step: dict) -> dict:
    return step.get("resources") or {}


def exclusive(value, default: dict | None = None) -> dict:
    """Maestro's exclusive key: a bool (the allocation) or {allocation, launcher}, over defaults."""
    result = dict(default or {"allocation": False, "launcher": False})
    if isinstance(value, dict):
        for key in ("allocation", "launcher"):
            if value.get(key) is not None:
                result[key] = bool(value[key])
    elif value is not None:
        result["allocation"] = bool(value)
    return result


def walltime_seconds(value, step: dict) -> float | int | None:
    """Seconds in a walltime: a number (or numeric string) is minutes; '[D-]H:M:S', 'M:S' as Slurm.

    Returns None when there is no walltime ('' or 'inf').  Whole seconds (an int) for minutes,
    floats where the text has colons, as Maestro's flux adapter (so '01:30:00' gives 5400.0).
    The parsing is ``mshared.bundlesettings.seconds``, the one every walltime of ours goes through.
    """
    try:
        seconds = parse_walltime(value, f"step '{step['id']}'")
    except InvalidInput:
        raise _bad_walltime(value, step) from None
    if seconds is None:
        return None
    return int(seconds) if isinstance(value, (int, float)) or str(value).strip().isdigit() else seconds


def hms(seconds) -> str:
    """HH:MM:SS, seconds rounded up."""
    total = int(math.ceil(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _bad_walltime(value, step: dict) -> InvalidInput:
    return InvalidInput(f"step '{step['id']}': walltime {value!r} is not a number of minutes or "
                        "[D-]HH:MM:SS")


# ---------------------------------------------------------------------- bundle allocations
END_VARIABLE = "MAESTRO_BUNDLE_END"


def allocation_owner(name: str) -> dict:
    """What ``header_value`` is given for the values of a bundle's allocation, so that a refusal
    names the allocation ("bundle allocation 'x': batch.queue ...") rather than a step."""
    return {"id": name, "stem": name, "owner": f"bundle allocation '{name}'"}


def allocation_script(owner: dict, shell: str, header: list[str], workdir: str, walltime: int,
                      launch: list[str]) -> str:
    """The whole text of a bundle's allocation script: the shebang and ``header`` (directive lines),
    then the body every scheduler's allocation shares: go to ``workdir``; export
    MAESTRO_BUNDLE_END, the epoch second at which the allocation's ``walltime`` runs out (the
    worker stops claiming steps before it); then ``launch``, whose last line starts one worker per
    node and waits for all of them.  That line is the script's last command, so the script exits
    with the launcher's exit status."""
    if not os.path.isabs(workdir):
        raise ValueError(f"an allocation's work directory must be absolute, not {workdir!r}")
    seconds = int(walltime)
    if seconds < 1:
        raise ValueError(f"an allocation's walltime must be at least a second, not {walltime!r}")
    body = [f"cd {shlex.quote(workdir)} || exit 1",
            f"export {END_VARIABLE}=$(( $(date +%s) + {seconds} ))"]
    shebang = header_value(shell, "batch.shell", owner, spaces=True)
    return "\n".join([f"#!{shebang}", *header, "", *body, *launch]) + "\n"


def quote_argv(argv) -> str:
    """A command line for a POSIX shell: every element quoted (shlex.quote)."""
    words = [str(word) for word in argv]
    if not words:
        raise ValueError("the worker command is empty")
    return " ".join(shlex.quote(word) for word in words)
