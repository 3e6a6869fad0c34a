"""Servers on a PostgreSQL record live through a restart of PostgreSQL.

A restart of the database (an upgrade, a failover to the standby) ends every
connection to it. Before, each server kept its dead connections, so every write
after failed, every probe too, and the server answered `unavailable` (and /health
503) until it was itself restarted.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import psycopg

from protocol import commands as c
from protocol.frames import Ack
from server.app import EmbeddedServer
from server.client import SessionClient
from server.health import STALLED_AFTER_S
from server.record import open_record
from tests.partition_driver import health
from tests.postgres_fixture import own_postgres  # noqa: F401  (a fixture)
from tests.test_several_servers import open_group, two_servers


def test_a_restart_of_postgresql_goes_unnoticed(own_postgres, tmp_path):
    pg = own_postgres
    url = pg.create_database()

    async def story(s):
        pa, pb, tok = s.pa, s.pb, s.tok
        f, p = await open_group(f"ws://127.0.0.1:{pa}", f"ws://127.0.0.1:{pb}", tok)    # Alex relayed to A
        seen = [e.seq for e in f.events]
        await asyncio.to_thread(pg.restart, 2.0)
        # the first write after the restart is answered as if nothing happened, by both servers' paths
        assert isinstance(r := await f.command(c.CallOn(target="p1")), Ack), r
        assert isinstance(r := await p.command(c.Chat(text="still here")), Ack), r
        # rooms are taken and served on both servers (their leases' connections too)
        for port, room in ((pa, "r2"), (pb, "r3")):
            g = SessionClient(f"ws://127.0.0.1:{port}", tok("facilitator", "f1", "Dana", room=room))
            w = await g.connect()
            assert w.seq >= 1
            await g.close()
        await f.sync()
        seqs = seen + [e.seq for e in f.events[len(seen):]]
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), seqs       # no gap, no duplicate
        assert not f.closed.is_set() and not p.closed.is_set()       # nobody was cut off
        await p.close()
        await f.close()
    with two_servers(url, tmp_path) as s:
        asyncio.run(story(s))
        assert health(s.pa) == 200 and health(s.pb) == 200
    logs = s.logs
    assert not any("Traceback" in lg for lg in logs), logs
    assert not any("cannot be written" in lg for lg in logs), logs
    assert open_record(url, readonly=True).verify().ok


def test_a_commit_whose_answer_was_lost_is_found_in_the_record(own_postgres):
    """A connection lost while committing leaves the outcome unknown: PostgreSQL may have
    committed just before. Here it did. The server, once writing resumes, finds the room's
    record ahead of what it showed, lets the room go (1012) and folds it again: its people
    resume by seq and get the events of that commit once, with no gap."""
    pg = own_postgres
    url = pg.create_database()

    async def story():
        srv = EmbeddedServer(url, b"s" * 32)
        await srv.start()
        try:
            f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "Dana"))
            await f.connect()
            assert isinstance(await f.command(c.Configure(title="T", roster=[c.RosterEntry(id="p1", name="Alex")])),
                              Ack)
            before = f.last_seq
            seen = [e.seq for e in f.events]
            rec = srv.hub.record
            real = rec.append
            lost = []

            def append_then_lose_the_answer(rows, snaps=()):
                real(rows, snaps)
                if not lost:
                    lost.append(len(rows))
                    raise psycopg.OperationalError("server closed the connection unexpectedly")
            rec.append = append_then_lose_the_answer
            r = await f.command(c.Open())
            assert r.code == "unavailable", r            # as far as the server could tell
            await asyncio.wait_for(f.closed.wait(), 10)  # the room is let go once writing resumes
            assert f.close_code == 1012
            w = await f.connect(resume=f.last_seq)
            assert w.resumed
            await f.sync()
            seqs = seen + [e.seq for e in f.events[len(seen):]]
            assert seqs == list(range(seqs[0], seqs[-1] + 1)), seqs       # no gap, no duplicate
            # the commit did happen, and its events came once, after the room was read again
            assert [e.ev.__struct_config__.tag for e in f.events if e.seq > before].count("session_opened") == 1
            # and the room takes writes again, on top of the commit that happened
            assert isinstance(r := await f.command(c.Chat(text="welcome back")), Ack), r
            assert r.seq == seqs[-1] + 1
            await f.close()
        finally:
            await srv.stop()
    asyncio.run(story())
    assert open_record(url, readonly=True).verify().ok


def test_behind_the_proxy_a_database_outage_of_seconds_cuts_nobody_off(tmp_path):
    """HAProxy closes the sessions of a server it takes out (deploy/haproxy.cfg), and with
    them every page's voice. A restart of the shared database fails every server's writes at
    once: /health keeps saying 200 (read-only) for a while, so a few seconds of it cut nobody
    off, and writing resumes when the database is back."""
    from campaigns.cluster import Cluster

    async def story(cl):
        f, p = await open_group(cl.url, cl.url, lambda role, pid, name: cl.token("r1", role, pid, name))
        down = asyncio.create_task(asyncio.to_thread(cl.pg.restart, 6.0))
        await asyncio.sleep(1.0)
        r = await f.command(c.Chat(text="are we still here?"))
        assert r.code == "unavailable", r                  # the record is away: said, not hidden
        await down
        t0 = time.monotonic()
        while not isinstance(r := await f.command(c.Chat(text="we are")), Ack):
            assert time.monotonic() - t0 < 15, r
            await asyncio.sleep(0.5)
        await p.sync()
        assert not f.closed.is_set() and not p.closed.is_set()    # nobody was cut off
        assert p.events[-1].ev.__struct_config__.tag == "chat_posted"
        await p.close()
        await f.close()
    with Cluster(str(tmp_path), 3) as cl:
        asyncio.run(story(cl))


def _postgres_processes(pg) -> list[int]:
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        main = int(f.readline())
    kids = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True).stdout.split()
    return [main, *map(int, kids)]


def test_a_database_that_holds_a_commit_is_said_to_staff_and_new_commands_are_refused(own_postgres):
    """The database takes the commit and says nothing (here its processes are stopped: a
    backend stuck on its disk looks the same). After STALLED_AFTER_S staff are told, and new
    commands are answered `unavailable` at once instead of queueing behind it; the commit
    lands, and is acked, when the database answers again."""
    pg = own_postgres
    url = pg.create_database()

    async def story():
        srv = EmbeddedServer(url, b"s" * 32)
        await srv.start()
        procs = []
        try:
            f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "Dana"))
            await f.connect()
            assert isinstance(await f.command(c.Configure(title="T")), Ack)
            procs = _postgres_processes(pg)
            for p in procs:
                os.kill(p, signal.SIGSTOP)
            held = asyncio.create_task(f.command(c.Open(), timeout=60))
            t0 = time.monotonic()
            while f.health is None or f.health.record != "unavailable":
                assert time.monotonic() - t0 < 15, f.health
                await asyncio.sleep(0.1)
            told = time.monotonic() - t0
            assert "has not answered" in f.health.detail, f.health
            r = await asyncio.wait_for(f.command(c.Chat(text="hello?")), 2)
            assert r.code == "unavailable", r          # refused at once, not queued behind the held commit
            assert not held.done()
            for p in procs:
                os.kill(p, signal.SIGCONT)
            procs = []
            r = await held
            assert isinstance(r, Ack), r                 # the held commit landed
            t1 = time.monotonic()
            while f.health.record != "ok":
                assert time.monotonic() - t1 < 10, f.health
                await asyncio.sleep(0.1)
            assert isinstance(r := await f.command(c.Chat(text="back")), Ack), r
            await f.close()
            return told
        finally:
            for p in procs:          # never leave the cluster stopped, whatever failed
                os.kill(p, signal.SIGCONT)
            await srv.stop()
    told = asyncio.run(story())
    assert STALLED_AFTER_S - 0.5 <= told < STALLED_AFTER_S + 3, told
    assert open_record(url, readonly=True).verify().ok
