"""The project's server under test, in a process of its own.

    python -m bench.serve --db FILE --secret HEX    # prints "READY <port> <seconds to start>"

Runs `server.app.EmbeddedServer` unchanged on a real clock; stops on SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time


async def main(db: str, secret: bytes, t0: float) -> None:
    from server.app import EmbeddedServer
    from server import pauses
    if os.environ.get("BENCH_FRAME_WRITES") == "each":
        # the baseline for server/outbox.py: every frame its own write, as before it
        from websockets.asyncio.server import broadcast
        from server import outbox

        def each(ws, data) -> None:
            if type(data) is outbox.Framed:     # an event framed once for all: its payload again
                text, data = outbox.unframed(data)
                data = data.decode() if text else data
            broadcast((ws,), data)
        outbox.send = each
    srv = EmbeddedServer(db, secret, port=0)
    await srv.start()
    if os.environ.get("SESSION_SERVER_GC") != "default":
        policy = pauses.install()        # as `session-server serve` does
        if os.environ.get("BENCH_GC") == "full-only":
            policy.freeze_young = False     # the baseline: freeze only after full passes, as before
    trace = None
    if os.environ.get("BENCH_TRACE"):
        from bench.trace import Trace
        trace = Trace(srv.hub).install()
    prof = None
    if os.environ.get("BENCH_CPROFILE"):
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    print(f"READY {srv.port} {time.perf_counter() - t0:.6f} {len(srv.hub.rooms)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if prof is not None:
        prof.disable()
        prof.dump_stats(f"{os.environ['BENCH_CPROFILE']}.{os.getpid()}.prof")
    if trace is not None:
        trace.dump(f"{os.environ['BENCH_TRACE']}.{os.getpid()}.json")
    await srv.stop()


if __name__ == "__main__":
    t0 = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--secret", required=True)
    a = ap.parse_args()
    asyncio.run(main(a.db, bytes.fromhex(a.secret), t0))
