"""The bare relay: the cheapest thing that could carry a group.

It forwards each frame to the other members of its room (named by the URL
path) and does nothing else: no validation, no state, no record. It is
served by the same `websockets` package, with the frame limit the project's
gateway uses and without per-message compression (which the gateway turns
off too: it would cost the relay a deflate per frame per connection), so the
difference between the two is what the project does on top of moving bytes.
Its keepalive is websockets' own.

    python -m bench.relay [--port 0]      # prints "READY <port>", stops on SIGTERM
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

MAX_FRAME = 64 * 1024   # as server.gateway


async def main(host: str, port: int) -> None:
    rooms: dict[str, set] = {}

    async def handler(ws) -> None:
        members = rooms.setdefault(ws.request.path, set())
        members.add(ws)
        try:
            async for frame in ws:
                broadcast([m for m in members if m is not ws], frame)
        except ConnectionClosed:
            pass
        finally:
            members.discard(ws)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(handler, host, port, max_size=MAX_FRAME, ping_interval=20, ping_timeout=20,
                     server_header=None, compression=None) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"READY {bound}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    try:
        asyncio.run(main(a.host, a.port))
    except KeyboardInterrupt:
        sys.exit(0)
