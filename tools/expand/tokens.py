"""Warn about $(TOKENS) left in commands that look like typos of known names."""

import difflib
import re

from .envres import DEFERRED

_TOKEN = re.compile(r"\$\(([A-Za-z_][\w.\-]*)\)")
_KNOWN_SUFFIXES = (".label", ".name", ".workspace")


def typo_warnings(instances: list[dict], known: set[str], source: str) -> list[str]:
    """One warning per distinct unknown token that is close to a known one.

    Unknown tokens are otherwise left alone, as Maestro does: `$(date)` is shell, not a typo.
    """
    names = set(known) | set(DEFERRED) | {"SPECROOT"}
    seen: dict[str, str] = {}
    checked: set[str] = set()
    for inst in instances:
        for text in (inst["cmd"], inst["restart"] or ""):
            if "$(" not in text:
                continue
            for token in _TOKEN.findall(text):
                if token in checked:
                    continue
                checked.add(token)
                base = token
                for suffix in _KNOWN_SUFFIXES:
                    if token.endswith(suffix):
                        base = token[: -len(suffix)]
                if base in names:
                    continue
                close = difflib.get_close_matches(base, names, n=1, cutoff=0.8)
                if close:
                    seen[token] = f"{source}: step '{inst['step']}': $({token}) is not defined; did you mean $({close[0]})?"
    return list(seen.values())
