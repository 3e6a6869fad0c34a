"""Steps of the system clock move nothing in the server (server/clock.py).

Before, attendance and timers followed the wall clock: a step of an hour forward
credited 60 minutes to people present for 4 s; a step back made 15 s of presence
0.0, put `last_left` before `first_joined`, and fired timers and drop deadlines an
hour late."""
from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from protocol import commands as c
from protocol.frames import Ack
from server.app import EmbeddedServer
from server.client import SessionClient
from server.clock import RealClock
from server.engine.admission import attended_seconds

STEP = 3600.0


class Sources:
    """A wall clock and a monotonic clock that a test moves by hand."""

    def __init__(self):
        self.wall_t, self.mono_t = 1_800_000_000.0, 50.0

    def wall(self) -> float:
        return self.wall_t

    def mono(self) -> float:
        return self.mono_t


@pytest.mark.parametrize("step", [STEP, -STEP])
def test_the_clock_follows_monotonic_time_not_the_wall(step):
    src = Sources()
    clock = RealClock(wall=src.wall, mono=src.mono)
    t0 = clock.now()
    assert t0 == src.wall_t                       # anchored at the wall time of the start
    src.mono_t += 4.0
    src.wall_t += 4.0 + step                      # 4 s pass, and the system clock steps
    assert clock.now() == t0 + 4.0
    assert clock.skew() == step                   # the parting is known, not followed
    clock.not_before(t0 + 10.0)                   # never before what the record holds
    assert clock.now() == t0 + 10.0
    clock.not_before(t0)                          # and never moved back
    assert clock.now() == t0 + 10.0


async def _until(pred, timeout: float) -> float:
    t = time.monotonic()
    while not pred():
        if time.monotonic() - t > timeout:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
    return time.monotonic() - t


@pytest.mark.parametrize("step", [STEP, -STEP], ids=["forward", "backward"])
async def test_a_real_server_ignores_a_step_of_the_system_clock(tmp_path, monkeypatch, step):
    """A real server and real websocket clients; `time.time` steps by an hour once the
    server has started (the wall source its clock read at the start)."""
    srv = await EmbeddedServer(str(tmp_path / "r.db"), secrets.token_bytes(32)).start()
    clients = []
    try:
        f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "F"))
        clients.append(f)
        await f.connect()
        roster = [c.RosterEntry(id="p1", name="P1")]
        assert isinstance(await f.command(c.Configure(title="t", roster=roster, drop_grace=1)), Ack)
        assert isinstance(await f.command(c.Open()), Ack)
        p1 = SessionClient(srv.url, srv.token("r1", "participant", "p1", "P1"))
        clients.append(p1)
        await p1.connect()
        assert isinstance(await f.command(c.Admit(target="p1")), Ack)
        await p1.sync()

        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + step)
        assert isinstance(await f.command(c.TimerStart(id="t", seconds=1)), Ack)
        room = srv.hub.rooms["r1"]
        # the timer fires after its second, not an hour late (nor at once)
        took = await _until(lambda: room.visible.timers["t"].state == "expired", 5)
        assert 0.8 < took < 2.5, took
        # a token signed now is judged by the server's clock, the one it was signed by
        o = SessionClient(srv.url, srv.token("r1", "observer", "o1", "O", ttl=60))
        clients.append(o)
        await o.connect()

        await asyncio.sleep(0.5)
        await p1.drop()
        await _until(lambda: room.visible.members["p1"].status == "dropped", 5)
        m = room.visible.members["p1"]
        present = attended_seconds(m, srv.clock.now())
        assert 1.0 < present < 4.0, present            # not 60 minutes, not 0
        assert m.drop_at >= m.first_joined
        # the drop deadline fires after its grace of 1 s, not an hour late
        took = await _until(lambda: room.visible.members["p1"].drop_overdue, 5)
        assert took < 2.5, took
        m = room.visible.members["p1"]
        assert m.last_left >= m.first_joined
        assert abs(attended_seconds(m, srv.clock.now()) - present) < 1e-6
        # the server's time and the stepped system clock have parted by the step
        assert abs(srv.clock.skew() - step) < 1.0
    finally:
        for cl in clients:
            await cl.close()
        await srv.stop()
