"""mrender's core: a DAG (plain data) in, a study directory out.

``render`` is pure: no clock, no environment, no file system; the study root, the settings and
``now`` are passed in, and it returns a Plan of what to write.  ``write_study`` carries a Plan out
(with mrender.writer) and is the whole of the mrender command but its output; ``target_root``
names the study directory, with the timestamp of ``now``.
"""

import hashlib
import os
import re
import string
from dataclasses import dataclass, field
from datetime import datetime

import yaml

from mruntime import scripts
from mshared import bundlesettings, extension, statefile
from mshared.contracts import CONTROL, dump_dag
from mshared.errors import InvalidInput
from mshared.jsonio import dumps
from mshared.root_tokens import resolve_root_tokens

from . import writer
from .aside import check_movable, is_study  # noqa: F401 (part of this API: may it be moved aside?)
from .writer import occupied  # noqa: F401 (part of this API: is a target directory taken?)

# Names the tool writes in the study root; nothing else (a workspace, the spec copy) may take them.
STATE_NAMES = (statefile.STATE_FILE, statefile.LOCK_FILE)
ROOT_NAMES = ("dag.json", "batch.info", "meta", "logs", "events.jsonl", "status.csv", *STATE_NAMES)
_SAFE = frozenset("-_.() " + string.ascii_letters + string.digits)
_INT_SETTINGS = {"throttle": 0, "attempts": 1, "rlimit": 0, "poll_interval": 1}


@dataclass
class Plan:
    """What a render writes.  Paths in ``dirs`` and ``files`` are relative to ``root`` ('/'
    separated, parents listed before children); ``scripts`` are (path, bytes), relative to the
    root, or with ``flat_scripts`` (--usetmp) plain names for a scripts directory of their own
    whose path the writer records in the state.  Every script is executable."""

    root: str
    flat_scripts: bool = False
    dirs: list[str] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    scripts: list[tuple[str, bytes]] = field(default_factory=list)
    state: dict = field(default_factory=dict)
    path_deps: list[dict] = field(default_factory=list)
    git_deps: list[dict] = field(default_factory=list)
    # reused instances (--reuse): (old workspace, new workspace, names to leave), copied in last
    copies: list[tuple] = field(default_factory=list)


def study_stamp(now: datetime) -> str:
    """`YYYYmmdd-HHMMSS` of ``now`` in local time, as Maestro names study directories: the one
    timestamp of a render, in the default directory name and in a moved-aside `DIR.old-<stamp>`."""
    return now.astimezone().strftime("%Y%m%d-%H%M%S")


def target_root(dag: dict, now: datetime, out: str | None = None) -> str:
    """The absolute study directory for ``dag``: ``out`` as given (no timestamp), or
    `<OUTPUT_PATH>/<name>_<YYYYmmdd-HHMMSS>` of ``now`` (``default_output_dir``)."""
    return os.path.abspath(out) if out else default_output_dir(dag, study_stamp(now))


def write_study(dag: dict, root: str, settings: dict, *, now: datetime, force: bool = False, git=None,
                reuse=None) -> str:
    """Render ``dag`` (checked by parse_dag, or made by mexpand.core) into the study directory
    ``root`` (absolute) and return ``root``.  ``settings`` are the state's (throttle, attempts,
    rlimit, poll_interval, dry, usetmp; missing ones take their defaults).  The instances' content
    keys go to meta/keys.json.  ``reuse``, a plan from ``plan_reuse`` for this DAG, has the
    instances it reuses brought over from the old study and marked FINISHED.

    An occupied ``root`` is refused before any work, or with ``force`` moved aside to
    `<root>.old-<stamp>` (nothing is deleted).  The directory appears whole or not at all.
    Raises InvalidInput (65) for a bad DAG, setting or dependency, or an occupied ``root``;
    MError (1) when it cannot be written.  CLI twin: `mrender -o ROOT [--reuse OLD]`.
    """
    from . import keys, reuse as reusing

    writer.check_target(root, force)
    plan = render(dag, root=root, settings=settings, now=now)
    records = reuse.keys if reuse is not None else keys.instance_keys(dag)
    plan.files.append((keys.KEYS_FILE, dumps(keys.keys_document(records, plan.state["study"]["dag_sha256"]))))
    if reuse is not None:
        plan.copies = reusing.apply(reuse, plan.state, dag)
    return writer.carry_out(plan, root, force=force, stamp=study_stamp(now), git=git)


def plan_reuse(dag: dict, old: str, *, root: str | None = None):
    """What a render of ``dag`` (at ``root``) would reuse from the study directory ``old``, and
    why every other instance runs: a ``mrender.reuse.ReusePlan`` (``decisions``, ``warnings``,
    ``counts()``; ``plan_document`` and ``plan_table`` show it).  Reads ``old``, never changes
    it.  Raises InvalidInput (65, "--reuse OLD: ...") when ``old`` is not a study, is damaged, is
    a study of another name or newer format, or is ``root``.  CLI twin: `mrender --reuse OLD --why`.
    """
    from . import keys, reuse as reusing

    records = keys.instance_keys(dag)
    return reusing.plan_reuse(dag, records, reusing.read_old(old, dag, root))


def show_plan(plan, dag: dict, root: str | None, fmt: str = "table") -> bytes:
    """A plan from ``plan_reuse`` as `--why` prints it: "table" (text) or "json" (the
    `maestro.reuse-plan` document); "summary" is the one line printed on stderr without --why."""
    from . import whyplan

    if fmt == "json":
        return whyplan.plan_json(plan, dag, root)
    if fmt == "summary":
        return whyplan.summary_line(plan).encode("utf-8")
    return whyplan.plan_table(plan).encode("utf-8")


def add_steps(dag: dict, steps: list[dict], root: str, *, scripts_dir: str | None = None) -> list[str]:
    """Write the workspaces and scripts of ``steps``, new instances (from
    mexpand.core.expand_combinations) of the study at ``root`` whose DAG is ``dag``: the scripts
    ``write_study`` would have written for them, in their workspaces or, for a study rendered with
    --usetmp, in its ``scripts_dir`` (the state's).  Returns the directories it needed.  Nothing
    the study uses changes until the caller commits the new DAG and state (mrender.more).
    Raises InvalidInput (65) for a workspace that would take the name of the study's own files,
    or a file in the way.  Caller: mextend.
    """
    from .more import add_tree

    study = dag["study"]
    flat = bool(scripts_dir) and scripts_dir != root
    plan = Plan(root=root, flat_scripts=flat)
    _plan_steps(plan, steps, _batch(study), root, flat=flat)
    spec_name, pgen_name = _root_copies(study)
    _check_top_level(plan, steps, spec_name, pgen_name)
    add_tree(root, plan.dirs, [] if flat else plan.scripts)
    if flat:
        add_tree(scripts_dir, [], plan.scripts)
    return plan.dirs


def study_dir_name(name: str, stamp: str) -> str:
    """Maestro's `<name>_<YYYYmmdd-HHMMSS>`: spaces become '_', unsafe characters go."""
    safe = "".join(ch for ch in name.replace(" ", "_") if ch in _SAFE).strip(".") or "study"
    return f"{safe}_{stamp}"


def default_output_dir(dag: dict, stamp: str) -> str:
    """`<OUTPUT_PATH>/<name>_<stamp>`; a relative OUTPUT_PATH is relative to the directory mexpand
    ran in (Maestro: the working directory), and no OUTPUT_PATH means that directory."""
    study = dag["study"]
    cwd = study.get("cwd") or "/"
    parent = study.get("output_path")
    if parent:
        parent = str(parent).replace("$(SPECROOT)", study.get("specroot") or cwd)
        parent = os.path.join(cwd, os.path.expanduser(parent))
    else:
        parent = cwd
    return os.path.normpath(os.path.join(parent, study_dir_name(study["name"], stamp)))


def check_settings(settings: dict) -> dict:
    out = dict(statefile.DEFAULT_SETTINGS)
    for key, value in settings.items():
        if key == "bundle":   # optional: the command line's override of the spec's bundle block
            if value is not None:
                bundlesettings.check_override(value, "setting 'bundle'")
                out[key] = value
            continue
        if key not in out:
            raise InvalidInput(f"unknown study setting '{key}'")
        if key in _INT_SETTINGS:
            if isinstance(value, bool) or not isinstance(value, int) or value < _INT_SETTINGS[key]:
                raise InvalidInput(f"setting '{key}' must be a whole number >= {_INT_SETTINGS[key]}, "
                                   f"not {value!r}")
        elif not isinstance(value, bool):
            raise InvalidInput(f"setting '{key}' must be true or false, not {value!r}")
        out[key] = value
    return out


def render(dag: dict, *, root: str, settings: dict, now: datetime) -> Plan:
    """Plan the study directory ``root`` (absolute) for ``dag`` (already checked by parse_dag)."""
    if not os.path.isabs(root):
        raise ValueError("render needs an absolute study root")
    settings = check_settings(settings)
    study = dag["study"]
    bundlesettings.check_study(study, dag["steps"], settings.get("bundle"), "setting 'bundle'")
    batch = _batch(study)
    kind = batch["type"]
    plan = Plan(root=root, flat_scripts=settings["usetmp"])
    dag_bytes = dump_dag(dag, (study.get("spec") or {}).get("path") or "the spec")
    dag_sha = hashlib.sha256(dag_bytes).hexdigest()

    spec_name, pgen_name = _root_copies(study)
    _plan_steps(plan, dag["steps"], batch, root, flat=plan.flat_scripts)
    _check_top_level(plan, dag["steps"], spec_name, pgen_name)

    files = plan.files
    files.append(("dag.json", dag_bytes))
    # made here so it gets our mode, not 0666 - umask; it records where the study is (studylock)
    files.append((statefile.LOCK_FILE, os.fsencode(root) + b"\n"))
    files.append((spec_name, ((study.get("spec") or {}).get("text") or "").encode("utf-8")))
    if pgen_name:
        files.append((pgen_name, (study["pgen"].get("text") or "").encode("utf-8")))
    files.append(("batch.info", yaml.safe_dump(study.get("batch") or {"type": "local"},
                                               default_flow_style=False).encode("utf-8")))
    plan.dirs += ["meta", "logs"]
    files.append(("meta/parameters.json", dumps(
        {s["id"]: {"params": s["params"], "combo": s.get("combo")} for s in dag["steps"]}, pretty=True)))
    files.append(("meta/environment.json", dumps(study.get("env") or {}, pretty=True)))
    files.append(("meta/metadata.json", dumps({
        "study": study["name"], "description": study.get("description"), "dag_sha256": dag_sha,
        "spec": {"filename": spec_name, "sha256": (study.get("spec") or {}).get("sha256")},
        "scheduler": kind, "steps": len(dag["steps"]), "rendered": statefile.iso_utc(now),
        "rendered_by": "mrender"}, pretty=True)))

    plan.path_deps, plan.git_deps = _dependencies(study, root)
    plan.state = statefile.new_state(
        {"name": study["name"], "root": root, "dag_sha256": dag_sha, "scheduler": kind,
         "scripts_dir": None},
        settings, (s["id"] for s in dag["steps"]), now)
    if study.get("extend") is not None:     # a study that grows: its record from the start
        plan.state[extension.KEY] = extension.new_record(bool(dag["steps"]), study["extend"].get("max_rounds"))
    return plan


def _batch(study: dict) -> dict:
    batch = study.get("batch") or {}
    if not isinstance(batch, dict):
        raise InvalidInput("DAG study.batch is not a mapping")
    batch = {**batch, "type": batch.get("type") or "local"}
    if batch["type"] not in scripts.FORMATS:
        raise InvalidInput(f"batch.type '{batch['type']}' is not a known scheduler; use one of "
                           f"{', '.join(scripts.FORMATS)}")
    shell = batch.get("shell")
    if shell is not None and (not isinstance(shell, str) or not shell.startswith("/")
                              or re.search(r"[\x00-\x1f]", shell)):
        raise InvalidInput(f"batch.shell must be an absolute path such as /bin/bash, not {shell!r}")
    return batch


def _plan_steps(plan: Plan, steps: list, batch: dict, root: str, flat: bool) -> None:
    """Workspaces and scripts: the hot loop of a render (one pass, plain string work)."""
    made: set[str] = set()
    dirs, out = plan.dirs, plan.scripts
    seen_flat: set[str] = set()
    step_scripts = scripts.step_scripts
    for step in steps:
        workspace = step["workspace"]
        if workspace not in made:
            _add_dirs(workspace, made, dirs)
        cmd = resolve_root_tokens(step["cmd"], step, root)
        restart = step.get("restart")
        if restart:
            restart = resolve_root_tokens(restart, step, root)
        for name, text in step_scripts(step, batch, cmd, restart):
            if flat:
                if name in seen_flat:
                    raise InvalidInput(f"step '{step['id']}': script name {name!r} is used twice; "
                                       "--usetmp keeps all scripts in one directory")
                seen_flat.add(name)
                out.append((name, text.encode("utf-8")))
            else:
                out.append((f"{workspace}/{name}", text.encode("utf-8")))


def _add_dirs(workspace: str, made: set, dirs: list) -> None:
    if not workspace or workspace in (".", "./"):
        raise InvalidInput(f"workspace {workspace!r} is the study root itself")
    parts = workspace.split("/")
    for end in range(1, len(parts) + 1):
        path = "/".join(parts[:end])
        if path not in made:
            if not parts[end - 1] or parts[end - 1] == ".":
                raise InvalidInput(f"workspace {workspace!r} is not a clean relative path")
            made.add(path)
            dirs.append(path)


def _root_copies(study: dict) -> tuple[str, str | None]:
    spec = study.get("spec") or {}
    spec_name = _copy_name(spec.get("filename") or "spec.yaml", "spec")
    pgen = study.get("pgen")
    pgen_name = _copy_name(pgen.get("filename") or "pgen.py", "pgen") if pgen else None
    if pgen_name and pgen_name == spec_name:
        raise InvalidInput(f"the spec and the pgen file have the same name {spec_name!r}")
    return spec_name, pgen_name


def _copy_name(name: str, what: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if (base in ("", ".", "..") or base.startswith(".") or CONTROL.search(base)
            or len(base.encode("utf-8", "surrogatepass")) > 255):     # NAME_MAX
        raise InvalidInput(f"DAG {what} file name {name!r} cannot be copied into the study")
    return base


def _check_top_level(plan: Plan, steps: list, spec_name: str, pgen_name: str | None) -> None:
    """The spec copy, the tool's own files and the workspaces must not share a name."""
    owners: dict[str, str] = {name: "mrender's own files" for name in ROOT_NAMES}
    for name, what in ((spec_name, "the spec copy"), (pgen_name, "the pgen copy")):
        if name and name in owners:
            raise InvalidInput(f"{what} {name!r} would overwrite {owners[name]}; rename the file")
        if name:
            owners[name] = what
    for path in plan.dirs:
        if "/" not in path and path in owners:
            step = next(s["id"] for s in steps if s["workspace"].split("/")[0] == path)
            raise InvalidInput(f"step '{step}': workspace {path!r} would overwrite {owners[path]}; "
                               "rename the step")


def _dependencies(study: dict, root: str) -> tuple[list[dict], list[dict]]:
    deps = (study.get("env") or {}).get("dependencies") or {}
    cwd = study.get("cwd") or "/"
    paths = [{"name": d["name"], "path": d["path"]} for d in deps.get("paths") or []]
    git = []
    for dep in deps.get("git") or []:
        base = str(dep.get("path") or ".").replace("$(OUTPUT_PATH)", root)
        dest = os.path.normpath(os.path.join(cwd, base, dep["name"]))
        if not dep.get("url"):
            raise InvalidInput(f"git dependency '{dep['name']}' has no url")
        git.append({"name": dep["name"], "url": str(dep["url"]), "dest": dest,
                    **{key: str(dep[key]) for key in ("hash", "tag", "branch") if dep.get(key)}})
        for key in ("url", "hash", "tag", "branch"):
            if git[-1].get(key, "").startswith("-"):
                raise InvalidInput(f"git dependency '{dep['name']}': {key} {git[-1][key]!r} starts with '-', "
                                   "which git would read as an option; fix the spec")
    return paths, git


def add_keys(root: str, old_dag_sha256: str, dag: dict, steps: list[dict], new_dag_sha256: str) -> bool:
    """Bring meta/keys.json up to date after ``steps`` joined the study at ``root`` (its DAG, whose
    sha256 was ``old_dag_sha256``, now ``dag``): the old records stay, the new instances' keys are
    computed with their parents' (``keys.instance_keys(known=...)``).  Derived data: returns False,
    and leaves the file, when the old keys are not those of the old DAG (a later ``--reuse``
    computes them all again from dag.json).  Caller: mextend, after its commit."""
    import os

    from mshared.jsonio import loads, write_atomic

    from . import keys

    path = os.path.join(root, keys.KEYS_FILE)
    try:
        with open(path, "rb") as handle:
            doc = loads(handle.read())
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict) or doc.get("dag_sha256") != old_dag_sha256 \
            or doc.get("version") != keys.KEYS_VERSION or not isinstance(doc.get("steps"), dict):
        return False
    records = doc["steps"]
    known = {sid: record["key"] for sid, record in records.items()}
    records.update(keys.instance_keys({"study": dag["study"], "steps": steps}, known=known))
    write_atomic(path, dumps(keys.keys_document(records, new_dag_sha256)), durable=False)
    return True
