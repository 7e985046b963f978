"""Workspace and file names: Maestro's make_safe_path, made unique when it would lose characters."""

import hashlib
import re
import string

from mshared.contracts import BAD_IN_STEM, MAX_NAME_BYTES

_VALID = frozenset("-_.() " + string.ascii_letters + string.digits)
_MAX_STEM = MAX_NAME_BYTES  # bytes; file systems allow 255 and we append ".<jobid>.out"
_ALL_VALID = re.compile(r"[-_.() A-Za-z0-9]*")


def maestro_safe(text: str) -> str:
    """Maestro's make_safe_path for one component: keep [A-Za-z0-9-_.() ], spaces become '_'."""
    return "".join(ch for ch in text if ch in _VALID).replace(" ", "_")


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def workspace_component(text: str) -> str:
    """Maestro's name where that is faithful; otherwise Maestro's name plus a hash of the original.

    Maestro silently drops characters such as '/', ',' or 'é', so two different values can share a
    directory.  When characters are dropped we append '~<hash>' of the original text, so every
    distinct value gets its own directory and names Maestro handles correctly are unchanged.
    """
    if _ALL_VALID.fullmatch(text) and text not in (".", "..") and len(text) <= _MAX_STEM:
        return text.replace(" ", "_")   # the common case, without a loop over characters
    safe = maestro_safe(text)
    if len(safe) == len(text) and safe not in (".", "..") and len(safe.encode()) <= _MAX_STEM:
        return safe
    safe = safe[:_MAX_STEM].strip(".") or "x"
    return f"{safe}~{short_hash(text)}"


def file_stem(name: str) -> str:
    """A name usable in file names and scheduler headers: the name itself when it is safe."""
    bad = BAD_IN_STEM.search(name) is not None
    if not bad and name not in (".", "..") and not name.startswith(".") and len(name.encode()) <= _MAX_STEM:
        return name
    safe = maestro_safe(name)[:_MAX_STEM].lstrip(".") or "step"
    return f"{safe}~{short_hash(name)}"
