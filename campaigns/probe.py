"""The fuzz campaign's probe: a small group (a facilitator and four participants) playing a
fixed routine of hands, turns, chat, notes and polls, whose every step must succeed and
whose latency is measured. It runs in a process of its own, so that the fuzzers' CPU
does not count as the server's latency."""
from __future__ import annotations

import asyncio
import random
import time

from protocol import commands as c
from protocol.frames import Ack
from server.client import SessionClient

PROBE_ROOM = "probe-room"
PROBE_PEOPLE = ["pp1", "pp2", "pp3", "pp4"]


async def _probe(url: str, tokens: dict, stop, pace: float, seed: int) -> dict:
    rng = random.Random(seed)
    f = SessionClient(url, tokens["f"], name="pf")
    ps = {pid: SessionClient(url, tokens[pid], name=pid, binary=i % 2 == 0) for i, pid in enumerate(PROBE_PEOPLE)}
    samples: list[tuple[float, float]] = []
    failures: list[str] = []
    await f.connect()
    for cl in ps.values():
        await cl.connect()
    await f.sync()

    async def step(cl, cmd):
        t0 = time.perf_counter()
        r = await cl.command(cmd, timeout=20)
        samples.append((time.monotonic(), time.perf_counter() - t0))
        if not isinstance(r, Ack):
            failures.append(f"{type(cmd).__name__}: {r.code} {r.message}")
        return r

    n = 0
    while not stop.is_set():
        n += 1
        pid = PROBE_PEOPLE[n % len(PROBE_PEOPLE)]
        p = ps[pid]
        routine = [(p, c.RaiseHand()), (f, c.NextSpeaker()), (p, c.Chat(text=f"probe line {n}")),
                   (f, c.EndTurn()), (f, c.Note(target=pid, text=f"probe note {n}"))]
        if n % 5 == 0:
            poll = f"probe-{seed}-{n}"
            routine += [(f, c.PollCreate(id=poll, question="How are you?", kind="scale", min=0, max=10)),
                        (f, c.PollOpen(id=poll)), (p, c.Vote(id=poll, value=rng.randint(0, 10))),
                        (f, c.PollClose(id=poll)), (f, c.PollShare(id=poll))]
        for cl, cmd in routine:
            await step(cl, cmd)
            await asyncio.sleep(pace)
    await f.sync()
    for cl in [f, *ps.values()]:
        await cl.close()
    return {"samples": samples, "failures": failures}


def probe_process(url: str, tokens: dict, stop, out, pace: float, seed: int) -> None:
    """The probe in its own process, so that the fuzzers' CPU does not count as server latency."""
    try:
        out.put(asyncio.run(_probe(url, tokens, stop, pace, seed)))
    except BaseException as exc:      # noqa: BLE001
        out.put({"samples": [], "failures": [f"the probe crashed: {exc!r}"]})

