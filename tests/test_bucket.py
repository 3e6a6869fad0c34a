"""The one token bucket behind the gateway's command rate and the hub's refused hellos,
on a clock the test moves by hand."""
from __future__ import annotations

import asyncio
import sqlite3

from server.bucket import TokenBucket


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_burst_then_a_refusal_then_the_steady_rate():
    clock = Clock()
    b = TokenBucket(rate=16.0, burst=40.0, clock=clock)
    assert all(b.take() for _ in range(40))       # a full bucket to start: the whole burst at once
    assert not b.take()
    clock.t += 0.0625                             # one command's worth at 16 a second
    assert b.take() and not b.take()
    clock.t += 1.0
    assert sum(b.take() for _ in range(100)) == 16


def test_a_quiet_spell_refills_only_up_to_the_burst():
    clock = Clock()
    b = TokenBucket(rate=20.0, burst=100.0, clock=clock)
    assert sum(b.take() for _ in range(150)) == 100
    clock.t += 3600                               # an hour of nothing is still one burst
    assert sum(b.take() for _ in range(150)) == 100


def test_a_refused_take_spends_nothing_and_fractions_add_up():
    clock = Clock()
    b = TokenBucket(rate=2.0, burst=1.0, clock=clock)
    assert b.take()
    for _ in range(3):                            # asked too often: refused, and the refill goes on
        clock.t += 0.125
        assert not b.take()
    clock.t += 0.125                              # 0.5 s in all: one token at 2 a second
    assert b.take()


async def test_a_flood_of_unusable_tokens_leaves_one_burst_of_audit_rows_and_counts_the_rest(server):
    hub = server.hub
    clock = Clock()
    hub._refusals = TokenBucket(hub._refusals.rate, hub._refusals.burst, clock=clock)   # time stands still
    knocks = int(hub._refusals.burst) + 30
    await asyncio.gather(*(hub.refuse_hello(None, None, "unauthorized", "not a token") for _ in range(knocks)))
    await hub.flush()
    db = sqlite3.connect(f"file:{server.db}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT count(*) FROM log WHERE room='~gateway' AND kind='rejected' AND type='hello'"
                          ).fetchone()[0]
    finally:
        db.close()
    assert (rows, hub.refusals_unrecorded) == (knocks - 30, 30)
