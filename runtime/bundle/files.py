"""The files passes and workers share, under ``<study>/meta/bundle/``.

    tickets/<batch>.jsonl   steps handed to the bundle by one pass, one JSON line each (renamed
                            into place whole: a worker never sees half a batch)
    claims/<ticket>         who runs a ticket: made by link(2), so exactly one worker (or a
                            pass cancelling it) gets each name; never removed
    done/<ticket>.json      how the step ended, written by the worker that ran it
    kill/<ticket>           a pass asks the worker running the ticket to stop it (a cancel)
    revoked/<batch>.jsonl   a batch of tickets taken back whole (the study was cancelled): a
                            worker that claimed one of them finds its batch gone and leaves it
    leases/<worker>.json    a worker's heartbeat: renewed every HEARTBEAT seconds
    stop                    a pass asks every worker to stop (the study was cancelled)
    outlook.json            a pass tells workers how many bundled steps still wait for parents
    allocations.json        the passes' record of the allocations (written under the study lock)
    alloc/<id>/             an allocation's script and output

Every file but a claim is written under a temporary name of its writer's own (``.<name>.<tag>``)
and renamed into place, so a reader sees all of it or nothing; renaming over a name nobody else
writes is atomic on NFS too.
"""

from __future__ import annotations

import os
import secrets
import socket

from mshared.jsonio import dumps, loads, write_atomic

DIR = os.path.join("meta", "bundle")
TICKETS, CLAIMS, DONE, KILL, LEASES, ALLOC = "tickets", "claims", "done", "kill", "leases", "alloc"
REVOKED = "revoked"        # ticket files of a cancelled study: no worker runs what they hold
STOP, OUTLOOK, ALLOCATIONS = "stop", "outlook.json", "allocations.json"
TICKET_PREFIX = "b-"
PASS_CLAIM = "pass"        # the claimant of a ticket a pass cancelled before any worker took it


def base(root: str) -> str:
    return os.path.join(root, DIR)


def path(root: str, *parts: str) -> str:
    return os.path.join(root, DIR, *parts)


def make_dirs(root: str) -> None:
    for name in (TICKETS, CLAIMS, DONE, KILL, LEASES, ALLOC, REVOKED):
        os.makedirs(path(root, name), exist_ok=True)


def is_ticket(job_id: str | None) -> bool:
    return bool(job_id) and job_id.startswith(TICKET_PREFIX)


def new_token() -> str:
    """A name part no other writer uses: the time in microseconds (so names sort in the order
    they were made) and random bits (two passes in one microsecond, clocks set back)."""
    import time

    return f"{time.time_ns() // 1000:013x}{secrets.token_hex(3)}"


def put(target: str, data: bytes, durable: bool = False) -> None:
    """Write ``target`` whole (``mshared.jsonio.write_atomic``: a temporary name of its own, then
    renamed into place; the user's umask, never world-writable)."""
    write_atomic(target, data, durable=durable)


def put_json(target: str, doc, durable: bool = False) -> None:
    put(target, dumps(doc), durable)


def get_json(target: str):
    """The document at ``target``; None when it is not there (or not whole: never, written by put)."""
    try:
        with open(target, "rb") as handle:
            return loads(handle.read())
    except FileNotFoundError:
        return None
    except ValueError:
        return None


def claim(root: str, ticket: str, who: dict) -> bool:
    """Claim ``ticket`` for ``who``; True when this caller got it, False when someone else has.

    The claim is a hard link from a file of this caller's own to ``claims/<ticket>``: link(2)
    fails when the name exists.  On NFS a link that succeeded can still report failure (a lost
    reply, retried); the link count of our own file says what happened, as open(2) advises."""
    own = path(root, CLAIMS, f".{ticket}.{socket.gethostname()}.{os.getpid()}")
    put_json(own, who)
    try:
        try:
            os.link(own, path(root, CLAIMS, ticket))
            return True
        except FileExistsError:
            return os.stat(own).st_nlink == 2
    finally:
        try:
            os.unlink(own)          # our own name; the claim keeps its inode
        except OSError:
            pass


def claimant(root: str, ticket: str) -> dict | None:
    return get_json(path(root, CLAIMS, ticket))


def all_names(directory: str) -> list[str]:
    """Every name in ``directory``, writers' temporaries (starting with '.') too."""
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def names(directory: str) -> list[str]:
    """The names in ``directory`` that are whole files (not a writer's temporary)."""
    try:
        return [n for n in os.listdir(directory) if not n.startswith(".")]
    except FileNotFoundError:
        return []
