"""A server stop is a drop, at the moment of the stop, for everyone connected.

That is the contract's attendance rule (SCENARIOS.md, "Attendance rules"). Without
it a restart found everyone who had been connected still present: those who never
came back were credited the downtime and everything after it, their drop grace
never started, and their seats stayed taken. The drops are ordinary events
(`dropped`, `waiting_left`, `staff_left`, with `system` as the actor), decided by
the engine's `stop_drops`, written through the record (durable, in the chain) and
folded like any drop, so the grace applies as to any drop.

- A graceful stop records them at its own instant, before the sockets close.
- A crash records nothing; the next start finds people still connected in the
  record and records their drops then, dated at each room's last recorded event:
  the last instant the record knows the room was as it says (docs/reliability.md).
"""
from __future__ import annotations

import asyncio
import logging

from server import engine
from server.health import Unavailable

log = logging.getLogger("session_server.hub")


def drops_after_crash(hub) -> None:
    """At load, before anyone can see a room: nobody is connected to a server that is
    only starting, so whoever the record holds as connected was cut off by a crash."""
    rows, stopped = [], 0
    for host in hub.rooms.values():
        at = host.state.at
        emits = engine.stop_drops(host.state, at)
        if emits:
            r, items = hub._fold(host, emits, engine.SYSTEM.id, None, at)
            rows.extend(r)
            host.recent.extend(items)
            stopped += 1
    if rows:
        hub.record.append(rows)
        log.warning("%d rooms had people connected when the server last stopped without "
                    "recording it; their drops are dated at each room's last event", stopped)


async def record_stop(hub, timeout: float) -> None:
    """At a graceful stop, while the committer still runs: the drops at this instant.
    Bounded, so that a record that cannot be written does not hold the stop (the next
    start then dates them as after a crash). Arrivals after this are refused."""
    hub.stopping = True
    if hub._wake_commit is None or not hub.health.ok:
        return          # never started, or nothing can be written
    now = hub.clock.now()
    futs = []
    for host in list(hub.rooms.values()):
        emits = engine.stop_drops(host.state, now)
        if emits:
            futs.append(hub._submit(host, emits, engine.SYSTEM.id, None, now))
    if not futs:
        return
    try:
        await asyncio.wait_for(asyncio.gather(*futs), timeout)
    except (asyncio.TimeoutError, TimeoutError, RuntimeError, Unavailable) as exc:
        log.error("the stop's drops could not be recorded (%s); the next start dates them "
                  "at each room's last recorded event", type(exc).__name__)
