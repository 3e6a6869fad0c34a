"""When the record cannot be written: stories on the real path.

In this process, the record's writes fail for real through SQLite's own size
limit (`PRAGMA max_page_count` on the server's connection: the next commit
that needs a new page gets SQLITE_FULL, exactly as on a full disk, and no
root is needed). The stories in subprocesses (`campaigns/faults.py`) fill a
real tmpfs instead (as root; else the server's file size limit) and send
SIGTERM and a second `serve`.
"""
from __future__ import annotations

import asyncio
import threading

import msgspec
import pytest

from campaigns.recordview import RecordView
from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack, Error
from server.client import SessionClient
from server.record import Record, RecordLocked
from server.record.lock import lock_path


def limit_growth(srv) -> None:
    """From now on the record's file may not grow: the next commit that needs a page fails."""
    db = srv.hub.record.db
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0    # no free page to write into
    n = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {n}")


def allow_growth(srv) -> None:
    srv.hub.record.db.execute("PRAGMA max_page_count = 4294967294")


def big_command() -> c.Configure:
    # a row larger than a page: it needs a new page, so it cannot fit in what is left
    return c.Configure(title="Group", agreement="a" * 2000,
                       roster=[c.RosterEntry(id=f"m{i}", name="N" * 200) for i in range(15)])


class Gates:
    """Holds each of the record's next writes until the story lets it go, so that
    commands can be queued behind a write in flight. The write itself is the
    real one, and fails or succeeds on its own."""

    def __init__(self, record, n: int):
        self.entered = [threading.Event() for _ in range(n)]
        self.go = [threading.Event() for _ in range(n)]
        self.calls = 0
        real = record.append

        def append(rows, snaps=()):
            i = self.calls
            self.calls += 1
            if i < n:
                self.entered[i].set()
                assert self.go[i].wait(10)
            return real(rows, snaps)
        record.append = append

    async def reached(self, i: int) -> None:
        assert await asyncio.to_thread(self.entered[i].wait, 10)


async def staff(srv, room: str, pid: str = "f1", role: str = "facilitator") -> SessionClient:
    cl = SessionClient(srv.url, srv.token(room, role, pid, pid.upper()), name=pid)
    await cl.connect()
    return cl


def folded(srv, room: str, seq: int) -> bytes:
    view = RecordView(srv.db)
    view.refresh()
    return msgspec.msgpack.encode(view.fold_to(room, seq))


async def test_a_failed_commit_fails_its_commands_and_those_decided_on_them_but_no_other_room(server):
    fa, fb = await staff(server, "room-a"), await staff(server, "room-b")
    p = SessionClient(server.url, server.token("room-b", "participant", "p1", "P1"), name="p1")
    for cl in (fa, fb):
        assert isinstance(await cl.command(c.Configure(title="G", roster=[c.RosterEntry(id="p1", name="P1")])), Ack)
        assert isinstance(await cl.command(c.Open()), Ack)
    await p.connect()
    assert isinstance(await fb.command(c.Admit(target="p1")), Ack)
    await server.hub.flush()
    seq_a = fa.last_seq

    gates = Gates(server.hub.record, 2)
    first = asyncio.ensure_future(fa.command(big_command(), cid="a-1"))
    await gates.reached(0)                       # a-1 is being written
    behind = asyncio.ensure_future(fa.command(c.Chat(text="decided on top of a-1"), cid="a-2"))
    other = asyncio.ensure_future(fb.command(c.Chat(text="another room"), cid="b-1"))
    for _ in range(200):                         # both decided and queued behind it
        if len(server.hub._pending) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(server.hub._pending) == 2
    limit_growth(server)
    gates.go[0].set()                            # a-1's commit really fails
    await gates.reached(1)                       # then b-1 goes alone, on a disk with room again
    allow_growth(server)
    gates.go[1].set()
    r1, r2, rb = await asyncio.gather(first, behind, other)

    assert isinstance(r1, Error) and r1.code == "unavailable" and "full" in r1.message
    assert isinstance(r2, Error) and r2.code == "unavailable"
    assert isinstance(rb, Ack)
    # nothing of room A's lost commit is believed: the room is as recorded
    assert fa.last_seq == seq_a
    obs = await staff(server, "room-a", "o1", "observer")
    assert obs.welcome.seq == seq_a + 1          # its own arrival is the next event
    assert obs.welcome.state.title == "G" and "m1" not in obs.welcome.state.members
    assert msgspec.msgpack.encode(obs.welcome.state) == folded(server, "room-a", seq_a + 1)
    assert not any(isinstance(f.ev, e.ChatPosted) for f in fa.events)
    # the consoles were told, once down and once up again; the participant was not
    await fb.sync()
    assert fb.health is not None and fb.health.record == "ok"
    assert p.health is None
    # the ids refused are free: sent again, they are decided afresh, once
    again = await fa.command(c.Chat(text="decided on top of a-1"), cid="a-2")
    assert isinstance(again, Ack) and not again.duplicate
    view = RecordView(server.db)
    view.refresh()
    assert [k for k in view.by_cmd if k[2] in ("a-1", "a-2", "b-1")] == [("room-b", "f1", "b-1"), ("room-a", "f1", "a-2")]
    for cl in (fa, fb, p, obs):
        await cl.close()


async def test_while_the_record_is_full_commands_are_refused_at_once_and_reads_are_served(server):
    f = await staff(server, "r")
    assert isinstance(await f.command(c.Configure(title="G")), Ack)
    await server.hub.flush()
    limit_growth(server)
    r = await f.command(big_command(), cid="big")
    assert isinstance(r, Error) and r.code == "unavailable"
    await f.sync()
    assert f.health.record == "unavailable" and f.health.detail == "the disk is full"
    loop = asyncio.get_running_loop()
    t = loop.time()
    for i in range(20):
        r = await f.command(c.Chat(text=f"{i}"), cid=f"n-{i}")
        assert isinstance(r, Error) and r.code == "unavailable"
    assert loop.time() - t < 3.0                 # refused, not left to wait (a few ms each)
    late = await staff(server, "r", "o1", "observer")    # a welcome, and the word on the record
    await late.sync()
    assert late.welcome.seq == f.last_seq and late.health.record == "unavailable"
    allow_growth(server)
    for _ in range(100):                         # the probes back off to at most 2 s
        if f.health.record == "ok":
            break
        await asyncio.sleep(0.05)
    assert f.health.record == "ok"
    assert isinstance(await f.command(big_command(), cid="big"), Ack)
    await f.close()
    await late.close()


async def test_a_timer_that_ends_during_an_outage_fires_at_its_own_instant_once_writing_resumes(server):
    f = await staff(server, "r")
    for cmd in (c.Configure(title="G"), c.Open(), c.TimerStart(id="t", seconds=1, label="break")):
        assert isinstance(await f.command(cmd), Ack)
    started = next(x.ev for x in f.events if isinstance(x.ev, e.TimerStarted))
    await server.hub.flush()
    limit_growth(server)
    assert (await f.command(big_command())).code == "unavailable"
    await asyncio.sleep(1.5)                     # the timer ends while nothing can be recorded
    assert not any(isinstance(x.ev, e.TimerExpired) for x in f.events)
    allow_growth(server)
    for _ in range(100):
        if any(isinstance(x.ev, e.TimerExpired) for x in f.events):
            break
        await asyncio.sleep(0.05)
    ends = [x for x in f.events if isinstance(x.ev, e.TimerExpired)]
    assert len(ends) == 1 and ends[0].at == started.ends_at
    await f.sync()
    obs = await staff(server, "r", "o1", "observer")
    assert msgspec.msgpack.encode(obs.welcome.state) == folded(server, "r", obs.welcome.seq)
    await f.close()
    await obs.close()


async def test_people_who_come_and_go_during_an_outage_are_recorded_once_it_ends(server):
    f = await staff(server, "r")
    roster = [c.RosterEntry(id=p, name=p.upper()) for p in ("p1", "p2")]
    for cmd in (c.Configure(title="G", roster=roster), c.Open()):
        assert isinstance(await f.command(cmd), Ack)
    parts = {}
    for pid in ("p1", "p2"):
        parts[pid] = SessionClient(server.url, server.token("r", "participant", pid, pid.upper()), name=pid)
        await parts[pid].connect()
        assert isinstance(await f.command(c.Admit(target=pid)), Ack)
    await server.hub.flush()
    limit_growth(server)
    assert (await f.command(big_command())).code == "unavailable"
    await parts["p1"].close()                    # gone while nothing can be recorded
    await parts["p2"].drop()
    await parts["p2"].connect(resume=parts["p2"].last_seq)   # and back, served from the record
    co = await staff(server, "r", "c1", "cofacilitator")     # a newcomer
    host = server.hub.rooms["r"]
    for _ in range(100):                         # the server has heard of the going and the coming
        if {"p1", "c1"} <= host.unrecorded.keys():
            break
        await asyncio.sleep(0.02)
    assert {"p1", "c1"} <= host.unrecorded.keys(), host.unrecorded
    allow_growth(server)
    for _ in range(100):
        if f.health.record == "ok":
            break
        await asyncio.sleep(0.05)
    await server.hub.flush()                     # what the outage kept out is recorded and delivered
    await f.sync()
    st = (await staff(server, "r", "o1", "observer")).welcome.state
    assert st.members["p1"].status == "dropped"           # not a ghost
    assert st.members["p2"].status == "present"
    assert st.members["c1"].status == "present"           # the arrival, recorded late
    for cl in (f, co, parts["p2"]):
        await cl.close()


def test_one_writer_per_record_and_readers_beside_it(tmp_path):
    path = str(tmp_path / "r.db")
    first = Record(path)
    with pytest.raises(RecordLocked) as exc:
        Record(path)
    assert path in str(exc.value) and "already holds" in str(exc.value)
    reader = Record(path, readonly=True)         # verify, export and replay read beside it
    assert reader.verify().ok
    reader.close()
    first.close()
    Record(path).close()                         # once closed, it can be written again
    assert lock_path(path).endswith("r.db.lock")


def test_every_error_code_is_documented_in_the_protocol():
    import os
    from protocol.frames import ERROR_CODES
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "protocol.md"), encoding="utf-8").read()
    assert [code for code in ERROR_CODES if f"| `{code}` |" not in doc] == []


async def test_the_console_header_says_when_nothing_is_being_recorded(tmp_path):
    from facilitator.app import ConsoleApp
    from facilitator.components.header import SessionHeader
    from facilitator.harness import Room, until
    room = await Room(str(tmp_path / "record.db")).start()
    try:
        app = ConsoleApp(url=room.url, token=room.token(), backoff=(0.05, 0.2))
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.conn == "online" and app.room is not None, what="online")
            mark = lambda: str(app.query_one("#record").render())   # noqa: E731
            assert mark() == ""
            co = await staff(room.server, room.room, "fac-2", "facilitator")
            await room.server.hub.flush()
            limit_growth(room.server)
            assert (await co.command(big_command())).code == "unavailable"
            await until(pilot, lambda: "not recording" in mark(), what="the mark")
            assert "the disk is full" in mark() and app.query_one(SessionHeader).has_class("-unrecorded")
            allow_growth(room.server)
            await until(pilot, lambda: mark() == "", what="the mark to go")
            await co.close()
    finally:
        await room.stop()
