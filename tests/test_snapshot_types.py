"""Property: however an in-process command spells its numbers (int or float), every snapshot is the fold.

The false alarm of `verify` came from an agenda given as `10` in-process and
read back from the log as `10.0`. Hypothesis draws agendas, timers and
breakouts whose float fields are ints or floats, runs them through the hub
as the console's own setup does, and checks each snapshot's bytes against a
fresh fold of the record, and the audit `verify` runs.
"""
from __future__ import annotations

import asyncio
import os
import tempfile

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import commands as c
from protocol.events import AnyEvent
from protocol.frames import Ack
from server import engine, snapshots
from server.app import EmbeddedServer
from server.engine import Actor
from server.record import Record

_enc = msgspec.msgpack.Encoder()
_events = msgspec.msgpack.Decoder(AnyEvent)
STAFF = Actor("f1", "facilitator", "Dana")

minutes = st.one_of(st.integers(1, 90), st.floats(0.5, 90, allow_nan=False).map(lambda x: round(x, 2)))
agenda = st.lists(st.tuples(st.sampled_from(["Check-in", "Skills", "Break", "Wrap-up"]), minutes),
                  min_size=1, max_size=5)
later = st.lists(st.one_of(
    st.tuples(st.just("timer"), minutes),
    st.tuples(st.just("breakouts"), st.integers(1, 30)),
    st.tuples(st.just("chat"), st.integers(0, 9)),
), max_size=8)


async def play(db: str, items, steps) -> list[tuple]:
    written: list[tuple] = []
    srv = await EmbeddedServer(db, os.urandom(32)).start()
    append = srv.hub.record.append

    def keep(rows, snaps=()):
        written.extend(tuple(s) for s in snaps)
        return append(rows, snaps)
    srv.hub.record.append = keep
    try:
        host = srv.hub.room("r1")
        roster = [c.RosterEntry(id=f"p{i}", name=f"P{i}") for i in range(4)]
        setup = [c.Configure(title="Group", agenda=[c.AgendaItem(t, m) for t, m in items], roster=roster), c.Open()]
        for i, (kind, n) in enumerate(steps):
            setup.append(c.TimerStart(id=f"t{i}", minutes=n) if kind == "timer"
                         else c.Chat(text=f"note {n}", to="all") if kind == "chat"
                         else c.BreakoutsOpen(minutes=n))
        for i, cmd in enumerate(setup):
            await srv.hub.command(host, STAFF, f"c{i}", cmd)     # refusals (e.g. no one to split) are fine
        await srv.hub.flush()
    finally:
        await srv.stop()
    return written


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agenda, later)
def test_every_snapshot_equals_the_fold_whatever_the_number_types(items, steps):
    snapshots_every = snapshots.EVERY
    snapshots.EVERY = 1
    try:
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "r.db")
            written = asyncio.run(play(db, items, steps))
            assert written
            rec = Record(db, readonly=True)
            try:
                events = list(rec.events("r1"))
                state = engine.new_room("r1")
                log = iter(events)
                for room, seq, _fp, body, _mac in written:
                    while state.seq < seq:
                        eseq, at, _aud, _typ, ebody = next(log)
                        engine.evolve(state, _events.decode(ebody), at, eseq)
                    assert bytes(body) == _enc.encode(state), (room, seq)
                assert snapshots.audit(rec)[2] == []
            finally:
                rec.close()
    finally:
        snapshots.EVERY = snapshots_every


def test_an_invalid_in_process_command_is_refused_as_on_the_wire(tmp_path):
    async def go():
        srv = await EmbeddedServer(str(tmp_path / "r.db"), os.urandom(32)).start()
        try:
            host = srv.hub.room("r1")
            bad = c.Configure(title="Group", agenda=[c.AgendaItem("Forever", 10_000)])   # over the schema's 600
            r = await srv.hub.command(host, STAFF, "c1", bad)
            assert not isinstance(r, Ack) and r.code == "invalid" and "600" in r.message
        finally:
            await srv.stop()
    asyncio.run(go())
