"""Room snapshots: a restart starts from them, and a bad one is never believed."""
from __future__ import annotations

import asyncio
import secrets
import sqlite3
import subprocess
import sys

import msgspec
import pytest

from protocol import commands as c
from protocol.frames import Ack
from server import snapshots
from server.app import EmbeddedServer
from server.gateway import Limits
from server.client import SessionClient
from tests.conftest import ROOT

EVERY = 20
FAST = Limits(rate=1000, burst=1000)     # the test chats faster than a person may


@pytest.fixture(autouse=True)
def often(monkeypatch):
    monkeypatch.setattr(snapshots, "EVERY", EVERY)


async def a_long_room(db: str, key: bytes, lines: int = 70) -> tuple[bytes, int]:
    """A room with a facilitator and a participant who chat; returns its visible state and a seq early on."""
    srv = await EmbeddedServer(db, key, limits=FAST).start()
    try:
        f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "Dana"))
        await f.connect()
        roster = [c.RosterEntry(id="p1", name="Sam")]
        assert isinstance(await f.command(c.Configure(title="Group", roster=roster)), Ack)
        assert isinstance(await f.command(c.Open()), Ack)
        p = SessionClient(srv.url, srv.token("r1", "participant", "p1", "Sam"))
        await p.connect()
        assert isinstance(await f.command(c.Admit(target="p1")), Ack)
        early = srv.hub.rooms["r1"].visible.seq
        for i in range(lines):
            who = f if i % 3 else p
            assert isinstance(await who.command(c.Chat(text=f"line {i}")), Ack)
        assert isinstance(await p.command(c.RaiseHand()), Ack)
        await p.close()
        await f.close()
        host = srv.hub.rooms["r1"]
        for _ in range(200):         # the leavings are recorded too
            if all(m.status != "present" for m in host.state.members.values()):
                break
            await asyncio.sleep(0.01)
        await srv.hub.flush()
        state = msgspec.msgpack.encode(host.state)
    finally:
        await srv.stop()
    return state, early


def verify(db: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", "verify", "--db", db], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


async def test_a_restart_starts_from_the_snapshot_and_resumes_from_before_it(tmp_path):
    db, key = str(tmp_path / "r.db"), secrets.token_bytes(32)
    _, early = await a_long_room(db, key)
    rec_seq = sqlite3.connect(db).execute("SELECT seq FROM snapshots WHERE room='r1'").fetchone()[0]
    assert rec_seq >= 3 * EVERY

    srv = await EmbeddedServer(db, key, limits=FAST).start()
    try:
        host = srv.hub.rooms["r1"]
        assert host.snap_seq == rec_seq                 # started from the snapshot...
        full = snapshots.decode(msgspec.msgpack.encode(srv.hub.rooms["r1"].visible))
        from server.review import fold_until
        whole = fold_until(srv.hub.record, "r1", None)[0]  # ...and it is the same as the whole fold
        assert msgspec.msgpack.encode(full) == msgspec.msgpack.encode(whole)

        # a console that saw only the start resumes across the snapshot: every event, in order, once
        f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "Dana"))
        w = await f.connect(resume=early)
        assert w.resumed
        await f.sync()
        seqs = [x.seq for x in f.events]
        assert seqs == list(range(early + 1, srv.hub.rooms["r1"].visible.seq + 1))
        texts = [x.ev.text for x in f.events if type(x.ev).__name__ == "ChatPosted"]
        assert texts == [f"line {i}" for i in range(70)]
        await f.close()
    finally:
        await srv.stop()
    out = verify(db)
    assert out.returncode == 0 and "room snapshots equal the fold" in out.stdout, out.stdout + out.stderr


async def test_a_snapshot_edited_by_hand_is_ignored_and_reported(tmp_path):
    db, key = str(tmp_path / "r.db"), secrets.token_bytes(32)
    state, _ = await a_long_room(db, key)
    con = sqlite3.connect(db)
    body = con.execute("SELECT body FROM snapshots WHERE room='r1'").fetchone()[0]
    forged = snapshots.decode(body)
    forged.members["p1"].flags = []
    forged.title = "Another group"
    con.execute("UPDATE snapshots SET body=? WHERE room='r1'", (msgspec.msgpack.encode(forged),))
    con.commit()
    con.close()

    srv = await EmbeddedServer(db, key, limits=FAST).start()
    try:
        host = srv.hub.rooms["r1"]
        assert host.snap_seq == 0                        # not believed: folded from the log
        assert host.visible.title == "Group"
        assert msgspec.msgpack.encode(host.state) == state
    finally:
        await srv.stop()
    out = verify(db)
    assert out.returncode == 1 and "differs from the fold" in out.stdout, out.stdout + out.stderr


async def test_a_snapshot_from_another_fold_is_not_used(tmp_path, monkeypatch):
    db, key = str(tmp_path / "r.db"), secrets.token_bytes(32)
    state, _ = await a_long_room(db, key)
    monkeypatch.setattr(snapshots, "FINGERPRINT", b"another version!")   # as after an upgrade
    srv = await EmbeddedServer(db, key, limits=FAST).start()
    try:
        host = srv.hub.rooms["r1"]
        assert host.snap_seq == 0
        assert msgspec.msgpack.encode(host.state) == state
    finally:
        await srv.stop()
