"""Relays a connection to the server that owns its room.

With several servers, HAProxy sends a room's connections to one server by
hashing `?room=`. Mostly that server owns the room. But ownership moves only
when an owner dies, while the hash ring moves whenever a server comes or
goes: after a server returns, the proxy sends some rooms back to it while the
server that took them over still holds them. We relay rather than close with
a redirect, because the client only knows the proxy's address, and a
redirect would bring it straight back here.

The relay passes frames unchanged both ways (the owner checks the token and
the hello again) and ends both sides with the code the other side gave.
"""
from __future__ import annotations

import asyncio
import logging
import urllib.parse

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

log = logging.getLogger("session_server.relay")


async def relay(ws, first, owner: str, room: str, path: str = "/") -> bool:
    """Relays `ws` (whose first message `first` was already read) to the same `path`
    on `owner`: the session's websocket (`/`), or a page's voice (`/media`), which
    must reach the server whose Janus carries the room. False if the owner cannot
    be reached (it is likely gone: take the room over)."""
    url = f"{owner.rstrip('/')}{path}?room={urllib.parse.quote(room, safe='')}"
    try:
        up = await asyncio.wait_for(connect(url, max_size=None, ping_interval=None, compression=None,
                                            open_timeout=2), 3)
    except (OSError, InvalidHandshake, TimeoutError, asyncio.TimeoutError):
        return False
    log.info("relaying a connection to the room's owner")
    async with up:
        await up.send(first)

        async def pump(src, dst):
            try:
                async for m in src:
                    await dst.send(m)
            except ConnectionClosed:
                pass

        a = asyncio.create_task(pump(ws, up))
        b = asyncio.create_task(pump(up, ws))
        done, pending = await asyncio.wait({a, b}, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        ended = up if b in done else ws
        other = ws if ended is up else up
        code = ended.close_code or 1011
        reason = ended.close_reason or ""
        if code in (1005, 1006):          # no close frame: the owner died, tell the client to come back
            code, reason = 1012, "the room's server went away; reconnect"
        await other.close(code, reason)
    return True
