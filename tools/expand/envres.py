"""The env block: variables, labels and dependencies resolved to any depth (Maestro: one level)."""

import os
import re

from mshared.errors import InvalidInput

# Tokens resolved later, by mrender, because they depend on where the study lands.
DEFERRED = ("OUTPUT_PATH", "WORKSPACE", "LAUNCHER")
RESERVED = ("SPECROOT", "WORKSPACE", "LAUNCHER")


def resolve_environment(env: dict | None, specroot: str, cwd: str, where: str) -> dict:
    """Return {"values": {NAME: text}, "variables", "labels", "paths", "git", "sources", "output_path"}.

    ``values`` maps every env name to its fully substituted text and is what steps are
    substituted with.  OUTPUT_PATH is taken out: it becomes the study directory at render time.
    """
    env = env or {}
    raw: dict[str, str] = {}
    numbers: dict[str, int | float] = {}   # pgens see YAML numbers as numbers, as in Maestro
    kinds: dict[str, str] = {}
    variables = dict(env.get("variables") or {})
    output_path = variables.pop("OUTPUT_PATH", None)
    for kind, block in (("variable", variables), ("label", env.get("labels") or {})):
        for name, value in block.items():
            if name in RESERVED:
                raise InvalidInput(f"{where}: env {kind} '{name}' is reserved by Maestro; rename it")
            raw[name] = str(value)
            kinds[name] = kind
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                numbers[name] = value
    deps = env.get("dependencies") or {}
    paths = []
    for item in deps.get("paths") or []:
        raw[item["name"]] = os.path.normpath(os.path.join(cwd, item["path"]))
        kinds[item["name"]] = "path"
        paths.append({"name": item["name"], "path": raw[item["name"]]})
    git_raw = list(deps.get("git") or [])
    for item in git_raw:
        raw[item["name"]] = item["path"].rstrip("/") + "/" + item["name"]
        kinds[item["name"]] = "git"
    raw["SPECROOT"] = specroot

    values = _resolve_all(raw, where)
    substitute = make_substituter(values)
    git = []
    for item in git_raw:
        entry = {key: substitute(str(val)) for key, val in item.items()}
        git.append(entry)
    return {
        "values": values,
        "typed": {**values, **numbers},
        "variables": {n: values[n] for n in raw if kinds.get(n) == "variable"},
        "labels": {n: values[n] for n in raw if kinds.get(n) == "label"},
        "paths": paths,
        "git": git,
        "sources": list(env.get("sources") or []),
        "output_path": None if output_path is None else str(output_path),
    }


def _resolve_all(raw: dict[str, str], where: str) -> dict[str, str]:
    if not raw:
        return {}
    token = _token_regex(raw)
    done: dict[str, str] = {}

    def resolve(name: str, stack: list[str]) -> str:
        if name in done:
            return done[name]
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + [name])
            raise InvalidInput(f"{where}: env values refer to each other in a cycle: {cycle}; break the cycle")
        stack.append(name)
        text = token.sub(lambda m: resolve(m.group(1), stack), raw[name])
        stack.pop()
        done[name] = text
        return text

    for name in raw:
        resolve(name, [])
    return done


def _token_regex(names) -> re.Pattern:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(r"\$\((" + alternatives + r")\)")


def make_substituter(values: dict[str, str]):
    """Return text -> text replacing every $(NAME) of ``values`` (values are already resolved)."""
    if not values:
        return lambda text: text
    token = _token_regex(values)

    def substitute(text: str) -> str:
        if "$(" not in text:
            return text
        return token.sub(lambda m: values[m.group(1)], text)

    return substitute
