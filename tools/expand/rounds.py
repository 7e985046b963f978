"""Rounds: a study that grows (mextend) is expanded again with its new combinations, and only the
instances that are new come out, each marked with the round that added it.

A step that uses parameters gets an instance per new combination, named as mexpand names them.
A step that uses none but comes after a step that gained instances (a funnel over it, and the
steps after that funnel) gets one instance per round: the rendered study's keeps Maestro's name
(``decide``), round g's is ``decide_ROUND.g`` in ``decide/ROUND.g``.  It waits for the instances
of its funnel parents that round g added and for those that had not ended when the round was
made (so it runs once every instance before it has ended, and sees all their results), and for
round g's instances of its other parents.  Earlier rounds' instances stay as they are, so a
"decide" step after each round is a funnel, and one round's failure is not the next one's.

``$(STUDY_ITER)`` and ``$(ENCORE_ITER)`` (the names of Maestro's MEP-001 "Encore" draft; one study
here, so both are the round) become the round of the instance.
"""

from . import naming

ROUND_TOKENS = ("STUDY_ITER", "ENCORE_ITER")
ROUND_LABEL = "ROUND"
TEXT_FIELDS = ("description", "cmd", "restart")


def with_round(instance: dict, round_no: int) -> dict:
    """``instance`` with the round tokens replaced by ``round_no`` in its texts (in place)."""
    for field in TEXT_FIELDS:
        text = instance.get(field)
        if text and "$(" in text:
            for token in ROUND_TOKENS:
                text = text.replace(f"$({token})", str(round_no))
            instance[field] = text
    return instance


def round_instances(order: list[dict], full: list[dict], existing: dict, round_no: int,
                    unfinished=frozenset()) -> list[dict]:
    """The instances round ``round_no`` adds, in topological order.

    ``order`` is the spec's prepared steps (their ``funnels``), ``full`` the instances of the whole
    parameter table (the study's combinations and the new ones, as ``_expand_steps`` makes them),
    ``existing`` the study's instances by id, ``unfinished`` the ids of those that have not ended
    (a round's funnel waits for them too).  Every new instance gets ``round``.
    """
    funnels = {step["name"]: set(step["funnels"]) for step in order}
    step_of = {inst["id"]: inst["step"] for inst in full}
    fresh: set[str] = set()          # ids (as in ``full``) of the instances new in this round
    renamed: dict[str, str] = {}     # full id -> this round's id (steps without parameters)
    moved: dict[str, str] = {}       # full workspace -> this round's (for $(step.workspace))
    out = []
    for inst in full:
        name, ident = inst["step"], inst["id"]
        own_funnels = funnels[name]
        if inst["params"]:
            if ident in existing:
                continue
            new = dict(inst)
            depends = [renamed.get(d, d) for d in inst["depends"]]
        else:
            # a step without parameters is redone only when something before it is new
            if not any(d in fresh for d in inst["depends"]):
                continue
            new = dict(inst)
            new["id"] = f"{ident}_{ROUND_LABEL}.{round_no}"
            new["workspace"] = f"{inst['workspace']}/{ROUND_LABEL}.{round_no}"
            new["stem"] = naming.file_stem(new["id"])
            renamed[ident], moved[inst["workspace"]] = new["id"], new["workspace"]
            # a funnel waits for this round's instances and for the earlier ones still going:
            # those that ended had earlier rounds' funnels (and are there to read)
            depends = [renamed.get(d, d) for d in inst["depends"]
                       if step_of.get(d) not in own_funnels or d in fresh or d in unfinished]
        fresh.add(ident)
        new["depends"] = list(dict.fromkeys(depends))
        new["workspace_refs"] = {ref: (path if ref in own_funnels else moved.get(path, path))
                                 for ref, path in inst["workspace_refs"].items()}
        new["round"] = round_no
        out.append(with_round(new, round_no))
    return out
