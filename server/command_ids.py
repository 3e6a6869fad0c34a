"""Remembered command ids: a command retried after a dropped connection is applied once.

Every command carries an id its client made. A room remembers, per (person, id),
the answer it gave (an Ack, a refusal) or, while the command is being recorded,
the future that will give it; a retry is answered from there, marked a
duplicate, and decided never again. An id reused for another command is
refused, not answered. A command that could not be recorded was not decided:
its id is forgotten, and a retry decides afresh. After a restart the ids behind
each room's newest events are read back from the record (server/loading.py).
"""
from __future__ import annotations

import asyncio

import msgspec

from protocol.frames import Ack, Error

RESULTS_KEPT = 5000         # command ids per room remembered for retries
# After a restart, the ids of each room's last events: a command whose answer
# was lost in the restart is among the room's newest (nothing else was decided
# while the server was down), so its retry finds it here.
IDS_AFTER_RESTART = 200


def as_retry(result, cmd_id: str):
    if isinstance(result, int):          # remembered from the record at start: an ack's seq
        return Ack(id=cmd_id, seq=result, duplicate=True)
    if isinstance(result, Ack):
        return Ack(id=cmd_id, seq=result.seq, duplicate=True)
    return result


def remember_refusal(host, actor, cmd, typ, body) -> None:
    info = msgspec.msgpack.decode(body)
    host.results[(actor, cmd)] = Error(id=cmd, code=info.get("code", "invalid"), message=info.get("message", ""))
    host.names[(actor, cmd)] = typ   # a refusal row is named after its command


def answer_again(host, key: tuple[str, str], name: str, cmd_id: str) -> asyncio.Future | None:
    """The answer to a command id this room has seen already, or None if it has not."""
    prior = host.results.get(key)
    if prior is None:
        return None
    out = asyncio.get_running_loop().create_future()
    if host.names.get(key, name) != name:
        out.set_result(Error(id=cmd_id, code="invalid",
                             message=f"command id {cmd_id!r} was already used for another command"))
    elif isinstance(prior, asyncio.Future):
        prior.add_done_callback(lambda f: out.set_result(as_retry(f.result(), cmd_id))
                                if not f.exception() else out.set_exception(f.exception()))
    else:
        out.set_result(as_retry(prior, cmd_id))
    return out


def expect(host, key: tuple[str, str], name: str, waiter: asyncio.Future) -> None:
    """A command being decided: a retry meanwhile waits for the same answer."""
    host.remember(key, waiter)
    host.names[key] = name


def forget(host, key: tuple[str, str], waiter: asyncio.Future) -> None:
    """Not recorded, so not decided: a retry decides afresh."""
    if host.results.get(key) is waiter:
        host.results.pop(key, None)
