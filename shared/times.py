"""The one timestamp format of every JSON document, and the clock the commands read."""

from datetime import datetime, timezone


def iso_utc(moment: datetime) -> str:
    """UTC ISO-8601 with 'Z', to the second.  ``moment`` must be aware: a naive time would be
    read in whatever zone this process runs in (convert it with ``astimezone()`` first)."""
    if moment.tzinfo is None:
        raise ValueError("iso_utc needs an aware datetime")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow() -> datetime:
    """Now, aware, in UTC: what the commands pass to the cores as their clock."""
    return datetime.now(timezone.utc)
