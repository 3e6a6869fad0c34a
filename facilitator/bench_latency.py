"""Key press to screen: how long until the console shows the server's answer.

    python -m facilitator.bench_latency [--presses 200] [--burst 100]

A real server on loopback, 15 participants, and a console driven by a Pilot.
Each sample presses `x` (extend the timer by a minute) and stops the clock
when the panels have been redrawn with the event the server sent back;
Textual paints that redraw on its next frame (at most 1/60 s later).
With `--burst N`, the participants meanwhile send N events a second (hands
up and down, chat), the load the console must not lag under.
By default the server and the participants run in a separate process, as
they would for a real facilitator; `--same-process` puts them all in the
console's own event loop (a harsher, less realistic setup).
Prints p50, p99 and max in milliseconds. A measurement, not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time

from facilitator.app import ConsoleApp
from facilitator.harness import Room, configure, until
from facilitator.local import as_facilitator
from protocol import commands as c
from protocol.commands import RosterEntry

OWN_PROCESS = True      # the console and the server each manage the collector, as their commands do


async def _burst(room: Room, rate: float, stop: asyncio.Event) -> int:
    """Participants raising and lowering hands and chatting at `rate` events a second."""
    people = list(room.people.values())
    sent = 0
    up: set[int] = set()
    interval = 1.0 / rate
    nxt = time.perf_counter()
    while not stop.is_set():
        i = random.randrange(len(people))
        cmd = (c.LowerHand() if i in up else c.RaiseHand()) if random.random() < 0.7 else c.Chat(text="mm-hm")
        if isinstance(cmd, c.RaiseHand):
            up.add(i)
        elif isinstance(cmd, c.LowerHand):
            up.discard(i)
        asyncio.ensure_future(people[i].command(cmd))
        sent += 1
        nxt += interval
        await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
    return sent


async def _group(d: str) -> Room:
    """A room of 15 admitted participants and a 30-minute timer for `x` to extend."""
    people = [(f"p{i}", f"Person {i}") for i in range(1, 16)]
    room = await Room(f"{d}/record.db").start(configure(
        capacity=15, roster=[RosterEntry(id=p, name=n) for p, n in people]))
    for pid, name in people:
        await room.participant(pid, name)
        await as_facilitator(room.server, room.room, c.Admit(target=pid))
    await as_facilitator(room.server, room.room, c.TimerStart(id="t", minutes=30))
    return room


async def _presses(app: ConsoleApp, presses: int) -> list[float]:
    """Presses `x` and times each until the panels show the server's answer."""
    samples: list[float] = []
    for _ in range(presses):
        before = app.room.timers["t"].seconds
        t0 = time.perf_counter()
        app.simulate_key("x")            # through the real bindings, without the Pilot's waits
        while not (app.room.timers["t"].seconds > before and app.drawn_seq >= app.room.seq):
            if time.perf_counter() - t0 > 5:
                raise SystemExit("no answer within 5 s")
            await asyncio.sleep(0.0005)
        samples.append((time.perf_counter() - t0) * 1000)
        # a brisk human pace, and within the server's limit of 20 commands a second
        await asyncio.sleep(0.08)
    return samples


async def run(presses: int, burst: float) -> list[float]:
    """Everything in the console's own process and event loop."""
    with tempfile.TemporaryDirectory() as d:
        room = await _group(d)
        app = ConsoleApp(url=room.url, token=room.token(), own_process=OWN_PROCESS)
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: app.conn == "online" and app.drawn_seq >= room.state().seq, 10)
            stop = asyncio.Event()
            load = asyncio.ensure_future(_burst(room, burst, stop)) if burst else None
            samples = await _presses(app, presses)
            stop.set()
            if load is not None:
                await load
        await room.stop()
        return samples


async def _group_process(burst: float) -> None:
    """The other side, in its own process: the server and 15 participants making noise.

    Prints the console's URL and token on one line, then keeps the burst going
    until its standard input closes."""
    import json
    import sys
    from server import pauses
    with tempfile.TemporaryDirectory() as d:
        room = await _group(d)
        if OWN_PROCESS:
            pauses.install()          # as `session-server serve` does
        print(json.dumps({"url": room.url, "token": room.token(), "seq": room.state().seq}), flush=True)
        stop = asyncio.Event()
        load = asyncio.ensure_future(_burst(room, burst, stop)) if burst else None
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        stop.set()
        if load is not None:
            await load
        await room.stop()


async def run_apart(presses: int, burst: float) -> list[float]:
    """As `run`, but the server and the participants live in another process, as
    they do for a real facilitator: the console's event loop is its own."""
    import json
    import sys
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "facilitator.bench_latency", "--group-process", "--burst", str(burst),
        *([] if OWN_PROCESS else ["--default-gc"]),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
    app = ConsoleApp(url=info["url"], token=info["token"], own_process=OWN_PROCESS)   # as `facilitator` runs it
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: app.conn == "online" and app.drawn_seq >= info["seq"], 10)
            await asyncio.sleep(1.0)          # let the burst reach its pace
            return await _presses(app, presses)
    finally:
        proc.stdin.close()
        await proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=200)
    ap.add_argument("--burst", type=float, default=0.0, help="background events per second")
    ap.add_argument("--same-process", action="store_true",
                    help="run the server and participants in the console's process (the old setup)")
    ap.add_argument("--default-gc", action="store_true",
                    help="leave CPython's collector as it is in both processes (the baseline for server/pauses.py)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--group-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global OWN_PROCESS
    OWN_PROCESS = not args.default_gc
    if args.group_process:
        asyncio.run(_group_process(args.burst))
        return
    runner = run if args.same_process else run_apart
    samples = sorted(asyncio.run(runner(args.presses, args.burst)))
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]   # noqa: E731
    if args.json:
        import json
        print(json.dumps({"presses": len(samples), "burst_per_s": args.burst, "size": "160x45",
                          "collector": "default" if args.default_gc else "server.pauses",
                          "p50_ms": round(p(0.50), 2), "p99_ms": round(p(0.99), 2),
                          "max_ms": round(samples[-1], 2), "mean_ms": round(statistics.mean(samples), 2)}))
        return
    print(f"key press -> screen, {len(samples)} presses, burst {args.burst:g}/s: "
          f"p50 {p(0.50):.1f} ms  p99 {p(0.99):.1f} ms  max {samples[-1]:.1f} ms  "
          f"mean {statistics.mean(samples):.1f} ms")


if __name__ == "__main__":
    main()
