"""Several servers on one PostgreSQL record: one owner per room, fenced; a room survives its server."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types

import pytest

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from protocol import commands as c
from protocol.frames import Ack
from server import tokens
from server.client import SessionClient
from server.leases import Fenced, Leases
from server.record import Row, open_record
from tests.conftest import ROOT
from tests.postgres_fixture import postgres  # noqa: F401  (a fixture)


def test_a_stale_owner_cannot_add_a_row(postgres):
    """A server paused past its lease: another takes the room, and the first one's
    next write is refused by the database, however its batch was decided."""
    url = postgres.create_database()
    rec_a, rec_b = open_record(url), open_record(url)
    a = Leases(url, "ws://a", ttl=0.5)
    b = Leases(url, "ws://b", ttl=0.5)
    rec_a.leases, rec_b.leases = a, b
    epoch, _, _ = a.acquire("r1")
    assert epoch == 1
    rec_a.append([Row("r1", 1, 1.0, "f1", "event", "x", "all", None, b"1")])
    # b cannot take it while a's lease runs
    assert b.acquire("r1")[:2] == (None, "ws://a")
    time.sleep(0.7)                      # a is "paused": its lease lapses
    assert b.acquire("r1")[0] == 2
    with pytest.raises(Fenced):
        rec_a.append([Row("r1", 2, 2.0, "f1", "event", "x", "all", None, b"stale")])
    assert a.renew() == ["r1"]           # a learns it lost the room
    rec_b.append([Row("r1", 2, 2.0, "f1", "event", "x", "all", None, b"2")])
    assert [bytes(body) for *_x, body in rec_b.events("r1")] == [b"1", b"2"]
    assert rec_b.verify().ok
    # a write with no lease at all is refused too
    with pytest.raises(Fenced):
        rec_a.append([Row("r9", 1, 1.0, "f1", "event", "x", "all", None, b"1")])
    for x in (a, b, rec_a, rec_b):
        x.close()


def test_a_lease_that_lapsed_while_nobody_took_it_is_kept(postgres):
    """A stalled server (a loaded machine, a database that was away) misses its renewals;
    as long as no other server took the room, its epoch still stands: a write extends the
    lease at that epoch and goes on, renew keeps the room rather than dropping every
    connection, and no other server can take it meanwhile."""
    url = postgres.create_database()
    rec = open_record(url)
    a = Leases(url, "ws://a", ttl=0.3)
    rec.leases = a
    assert a.acquire("r1")[0] == 1
    rec.append([Row("r1", 1, 1.0, "f1", "event", "x", "all", None, b"1")])
    time.sleep(0.5)                      # stalled past the expiry
    # nobody took it: the write extends the lease at its epoch, then is made
    rec.append([Row("r1", 2, 2.0, "f1", "event", "x", "all", None, b"2")])
    assert a.fence()[1] == {"r1": 1}
    b = Leases(url, "ws://b", ttl=0.3)
    assert b.acquire("r1")[:2] == (None, "ws://a")     # extended: not free for another server
    assert a.renew() == []               # still ours, same epoch
    rec.append([Row("r1", 3, 3.0, "f1", "event", "x", "all", None, b"3")])
    assert [bytes(body) for *_x, body in rec.events("r1")] == [b"1", b"2", b"3"]
    for x in (a, b, rec):
        x.close()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, secret_file: str, port: int, media: bool = False) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "server", "serve", *([] if media else ["--no-media"]), "--db", url,
                          "--port", str(port), "--secret-file", secret_file], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert "session server on" in line, (line, p.stderr.read() if p.poll() is not None else "")
    return p


@contextlib.contextmanager
def two_servers(url: str, tmp_path, media_a: bool = False):
    """Servers A and B on one record and one secret. Yields `tok(role, id, name, room="r1")`,
    their ports and processes; stops both at the end, a paused one too, and keeps what they
    logged (`logs`)."""
    secret_file = str(tmp_path / "secret")
    secret = tokens.load_secret(secret_file)

    def tok(role, pid, name, room="r1"):
        return tokens.sign(secret, tokens.Claims(room=room, role=role, id=pid, name=name, exp=time.time() + 3600))
    pa, pb = _port(), _port()
    them = types.SimpleNamespace(tok=tok, pa=pa, pb=pb, a=_serve(url, secret_file, pa, media=media_a), b=None,
                                 logs=[])
    try:
        them.b = _serve(url, secret_file, pb)
        yield them
    finally:
        for proc in (them.a, them.b):
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
            them.logs.append(proc.stderr.read())


async def open_group(f_url: str, p_url: str, tok) -> tuple[SessionClient, SessionClient]:
    """Dana opens room r1 from `f_url` with Alex on the roster; Alex, from `p_url`, is admitted."""
    f = SessionClient(f_url, tok("facilitator", "f1", "Dana"))
    await f.connect()
    assert isinstance(await f.command(c.Configure(title="T", roster=[c.RosterEntry(id="p1", name="Alex")])), Ack)
    assert isinstance(await f.command(c.Open()), Ack)
    p = SessionClient(p_url, tok("participant", "p1", "Alex"))
    await p.connect()
    assert isinstance(await f.command(c.Admit(target="p1")), Ack)
    await p.sync()
    return f, p


def _needs_janus() -> None:
    if shutil.which("janus") is None and not os.path.exists("/usr/bin/janus"):
        pytest.fail("janus is not installed (./run-tests installs Debian's janus)")


def test_a_room_is_served_again_after_its_server_is_killed(postgres, tmp_path):
    url = postgres.create_database()

    async def story(s):
        pa, pb, a, tok = s.pa, s.pb, s.a, s.tok
        # a participant who reaches the other server is relayed to the owner
        fa, p = await open_group(f"ws://127.0.0.1:{pa}", f"ws://127.0.0.1:{pb}", tok)
        assert isinstance(await p.command(c.RaiseHand()), Ack)
        await fa.sync()
        assert fa.events[-1].ev.__struct_config__.tag == "hand_raised"
        before = fa.last_seq
        seen_before = [e.seq for e in fa.events]
        a.send_signal(signal.SIGKILL)
        a.wait()
        t0 = time.monotonic()
        await fa.closed.wait()
        # the facilitator comes back through the survivor and resumes by seq
        f2 = SessionClient(f"ws://127.0.0.1:{pb}", tok("facilitator", "f1", "Dana"))
        f2.last_seq = before
        w = await f2.connect(resume=before, timeout=10)
        served_after = time.monotonic() - t0
        assert w.resumed
        # the server's death was a drop for the participant too (its relay ended): they
        # come back within the grace, and so count as present throughout
        await p.closed.wait()
        await p.connect(resume=p.last_seq)
        r = await f2.command(c.CallOn(target="p1"))
        assert isinstance(r, Ack), r
        await f2.sync()
        seqs = seen_before + [e.seq for e in f2.events]
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), seqs     # no gap, no duplicate
        await p.close()
        await f2.close()
        return served_after
    with two_servers(url, tmp_path) as s:
        served_after = asyncio.run(story(s))
    assert served_after < 5.0, served_after
    assert open_record(url, readonly=True).verify().ok


def test_a_pages_voice_that_reaches_another_server_is_relayed_to_the_rooms_server(postgres, tmp_path):
    """After a failover the proxy's hash can bring a room back to a server that does not hold
    it (a restarted one). The session's websocket was relayed to the holder; the page's voice
    (`/media?room=R`) must be too, to the server whose Janus carries the room. Server B runs
    without voice at all, so a Janus session reached through it can only be A's."""
    _needs_janus()
    url = postgres.create_database()

    async def voice(port: int, credential: str) -> list:
        said = []
        async with connect(f"ws://127.0.0.1:{port}/media?room=r1") as ws:
            try:
                await ws.send(json.dumps({"janus": "auth", "credential": credential, "transaction": "t1"}))
                said.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                await ws.send(json.dumps({"janus": "create", "transaction": "t2"}))
                said.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            except ConnectionClosed as exc:
                said.append({"closed": exc.rcvd.reason if exc.rcvd else ""})
        return said

    async def story(s):
        # the participant's session reaches B, which relays it to A, the room's server
        f, p = await open_group(f"ws://127.0.0.1:{s.pa}", f"ws://127.0.0.1:{s.pb}", s.tok)
        through_b = await voice(s.pb, s.tok("participant", "p1", "Alex"))
        # someone not in the room is refused by A, through B, as they would be at A
        outsider = await voice(s.pb, s.tok("participant", "p9", "Sam"))
        await p.close()
        await f.close()
        return through_b, outsider
    with two_servers(url, tmp_path, media_a=True) as s:
        through_b, outsider = asyncio.run(story(s))
    assert through_b[0] == {"janus": "success", "transaction": "t1"}, through_b
    assert through_b[1]["janus"] == "success" and through_b[1]["transaction"] == "t2", through_b
    assert isinstance(through_b[1]["data"]["id"], int)     # a Janus session: A's, the only Janus
    assert outsider[0]["janus"] == "closed" and "not in the room" in outsider[0]["reason"], outsider


def test_a_server_that_lost_its_room_while_paused_ends_the_rooms_voice_there(postgres, tmp_path):
    """A paused server whose lease passed drops the room's connections; it must end the room's
    voice on its Janus too. Otherwise the pages still in that Janus room would go on hearing
    each other where the room's new server rules nothing (a removal, a mute, a round's end)."""
    _needs_janus()
    url = postgres.create_database()

    async def story(s):
        pa, pb, a, tok = s.pa, s.pb, s.a, s.tok
        f, p = await open_group(f"ws://127.0.0.1:{pa}", f"ws://127.0.0.1:{pa}", tok)
        async with connect(f"ws://127.0.0.1:{pa}/media?room=r1") as ws:
            await ws.send(json.dumps({"janus": "auth", "credential": tok("participant", "p1", "Alex"),
                                      "transaction": "t1"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["janus"] == "success"
            await ws.send(json.dumps({"janus": "create", "transaction": "t2"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["janus"] == "success"   # in A's Janus
            # A stops answering past its lease; B takes the room for the facilitator coming back
            a.send_signal(signal.SIGSTOP)
            try:
                f2 = SessionClient(f"ws://127.0.0.1:{pb}", tok("facilitator", "f1", "Dana"))
                await f2.connect(timeout=15)
            finally:
                a.send_signal(signal.SIGCONT)
            # A, running again, finds its lease gone: the room's voice there ends
            said = json.loads(await asyncio.wait_for(ws.recv(), 10))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
        await f2.close()
        return said
    with two_servers(url, tmp_path, media_a=True) as s:
        said = asyncio.run(story(s))
    assert said == {"janus": "closed", "reason": "the room moved to another server"}, said
