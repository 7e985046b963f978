"""How much memory this process may use: the address-space and data limits (ulimit -v, -d).

A command that would need more than that is refused with one line before it starts, rather than
running into the limit half-way: the JSON encoder crashes outright (a segmentation fault, no
message) when it cannot get the memory for a large document.
"""

import resource


def process_limit() -> int | None:
    """Bytes this process may map, or None when nothing limits it."""
    limits = []
    for name in ("RLIMIT_AS", "RLIMIT_DATA"):
        kind = getattr(resource, name, None)
        if kind is None:
            continue
        soft, _ = resource.getrlimit(kind)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    return min(limits) if limits else None


def fits(need: int) -> tuple[bool, int | None]:
    """(whether ``need`` bytes fit under the process's limit, that limit)."""
    limit = process_limit()
    return (limit is None or need <= limit), limit
