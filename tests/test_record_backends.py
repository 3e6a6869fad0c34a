"""The record's promises, on both backends: SQLite (a file) and PostgreSQL (a URL)."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys

import pytest

from server.record import Row, open_record
from server.scenarios.runner import run_scenario_async
from tests.conftest import ROOT, SCENARIOS
from tests.postgres_fixture import postgres  # noqa: F401  (a fixture)


def _rows(room, n, start=1):
    return [Row(room, start + i, 1000.0 + i, "p1", "event", "chat_posted", "all", f"c{room}{start + i}",
                b"\x81\xa1x" + bytes([i % 256])) for i in range(n)]


@pytest.fixture(params=["sqlite", "postgresql"])
def spec(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "record.db")
    return request.getfixturevalue("postgres").create_database()


def _raw(spec):
    """A connection that can tamper: the record's own refuses to."""
    if spec.startswith("postgresql://"):
        import psycopg
        db = psycopg.connect(spec, autocommit=True)
        db.execute("ALTER TABLE log DISABLE TRIGGER USER")
        db.execute("ALTER TABLE registry DISABLE TRIGGER USER")
        return db, "%s", "rid"
    db = sqlite3.connect(spec, isolation_level=None)
    db.execute("DROP TRIGGER log_no_update")
    db.execute("DROP TRIGGER log_no_delete")
    return db, "?", "id"


def test_rows_come_back_in_order_per_room(spec):
    rec = open_record(spec)
    rec.append(_rows("r1", 3) + _rows("r2", 2))
    rec.append(_rows("r1", 2, start=4))
    assert [s for s, *_ in rec.events("r1")] == [1, 2, 3, 4, 5]
    assert [s for s, *_ in rec.events("r1", after=2, before=5)] == [3, 4]
    assert rec.open_rooms() == {"r1": 5, "r2": 2}
    assert [c for _a, c, _s in rec.command_ids("r2", 0)] == ["cr21", "cr22"]
    assert rec.verify().ok and rec.verify().rows == 7
    reader = rec.reader()
    assert len(list(reader.rows())) == 7
    rec.close()


def test_a_restart_reads_which_rooms_are_open_and_each_tail_with_its_command_ids(spec):
    """What a restart reads: every room still open with its last seq (not closed ones, not a
    program's log, not a room with nothing but refusals), and a room's tail in one read."""
    rec = open_record(spec)
    closed = Row("r3", 2, 1003.0, "f1", "event", "session_closed", "all", None, b"\x80")
    refused = Row("r0", None, 1004.0, "p1", "rejected", "chat", None, "x1", b"\x80")
    rec.append(_rows("r2", 2) + _rows("r1", 4) + _rows("r3", 1) + [closed, refused] + _rows("~program:p", 2))
    rec.append([Row("r1", 5, 1005.0, "system", "event", "dropped", "staff", None, b"\x80")])
    assert rec.open_rooms() == {"r1": 5, "r2": 2}
    tail = list(rec.events_and_ids("r1", 2))
    assert [(seq, actor, cmd) for seq, _at, _aud, _body, actor, cmd in tail] == [
        (3, "p1", "cr13"), (4, "p1", "cr14"), (5, "system", None)]
    assert tail[0][1:4] == (1002.0, "all", b"\x81\xa1x\x02")
    assert list(rec.events_and_ids("r2", 2)) == []
    rec.close()


def test_a_seq_is_taken_once(spec):
    rec = open_record(spec)
    rec.append(_rows("r1", 2))
    with pytest.raises(Exception):
        rec.append(_rows("r1", 1, start=2))
    # the failed transaction left nothing behind, and the chain goes on from where it was
    rec.append(_rows("r1", 1, start=3))
    assert [s for s, *_ in rec.events("r1")] == [1, 2, 3]
    assert rec.verify().ok


def test_the_log_refuses_updates_and_deletes(spec):
    rec = open_record(spec)
    rec.append(_rows("r1", 3))
    q = "UPDATE log SET body = %s" if spec.startswith("postgresql") else "UPDATE log SET body = ?"
    for sql, args in [(q, (b"\x00",)), ("DELETE FROM log", ())]:
        with pytest.raises(Exception, match="append-only"):
            rec.db.execute(sql, args)
    assert rec.verify().ok


def test_verify_catches_any_changed_row_a_removed_tail_and_a_removed_room(spec):
    rec = open_record(spec)
    rec.append(_rows("r1", 6) + _rows("r2", 3) + _rows("r3", 2))
    assert rec.verify().ok
    rec.close()
    db, ph, pos = _raw(spec)
    # a changed byte in a middle row of room r1
    body = bytes(db.execute("SELECT body FROM log WHERE room='r1' AND seq=3").fetchone()[0])
    db.execute(f"UPDATE log SET body = {ph} WHERE room='r1' AND seq=3", (body[:-1] + b"\xff",))
    res = open_record(spec, readonly=True).verify()
    assert not res.ok and res.bad_id == 3, res
    db.execute(f"UPDATE log SET body = {ph} WHERE room='r1' AND seq=3", (body,))
    assert open_record(spec, readonly=True).verify().ok
    # the newest row of a room removed: the head catches it
    db.execute("DELETE FROM log WHERE room='r2' AND seq=3")
    res = open_record(spec, readonly=True).verify()
    assert not res.ok, res
    db.close()


def test_on_postgresql_a_whole_room_removed_is_caught(postgres):
    url = postgres.create_database()
    rec = open_record(url)
    rec.append(_rows("a", 2))
    rec.append(_rows("b", 2))
    rec.append(_rows("c", 2))
    rec.close()
    db, _ph, _ = _raw(url)
    # a room from the middle: its rows, its head and its registry entry
    db.execute("DELETE FROM log WHERE room='b'")
    db.execute("DELETE FROM heads WHERE room='b'")
    db.execute("DELETE FROM registry WHERE room='b'")
    res = open_record(url, readonly=True).verify()
    assert not res.ok and "registry" in res.problem, res
    # the newest room, everything about it but the registry head
    url2 = postgres.create_database()
    rec = open_record(url2)
    rec.append(_rows("a", 2))
    rec.append(_rows("z", 2))
    rec.close()
    db, _ph, _ = _raw(url2)
    for t in ("log", "heads", "registry"):
        db.execute(f"DELETE FROM {t} WHERE room='z'")
    res = open_record(url2, readonly=True).verify()
    assert not res.ok and "registry head" in res.problem, res
    # a room's head removed but its rows kept
    url3 = postgres.create_database()
    rec = open_record(url3)
    rec.append(_rows("a", 2))
    rec.close()
    db, _ph, _ = _raw(url3)
    db.execute("DELETE FROM heads WHERE room='a'")
    res = open_record(url3, readonly=True).verify()
    assert not res.ok and "head is missing" in res.problem, res


def test_a_command_id_is_applied_once_even_across_servers(postgres):
    """The database refuses a second set of events for one command id, so a retry
    against another server after a failover cannot be applied twice."""
    url = postgres.create_database()
    a, b = open_record(url), open_record(url)
    a.append([Row("r1", 1, 1.0, "p1", "event", "hand_raised", "all", "cmd-7", b"x")])
    with pytest.raises(Exception, match="commands"):
        b.append([Row("r1", 2, 2.0, "p1", "event", "hand_raised", "all", "cmd-7", b"x")])
    assert [s for s, *_ in a.events("r1")] == [1]
    assert a.verify().ok


def test_the_scenario_library_plays_on_postgresql(postgres):
    names = sorted(f for f in os.listdir(SCENARIOS) if f.endswith(".toml"))
    assert len(names) >= 10

    async def play():
        out = {}
        for name in names:
            url = postgres.create_database()
            res = await run_scenario_async(os.path.join(SCENARIOS, name), url)
            out[name] = (res.passed, [str(f) for f in res.failures], url)
        return out
    results = asyncio.run(play())
    failed = {n: f for n, (ok, f, _u) in results.items() if not ok}
    assert not failed, failed
    for name, (_ok, _f, url) in results.items():
        assert open_record(url, readonly=True).verify().ok, name


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_offline_commands_take_a_postgresql_url(postgres, tmp_path):
    url = postgres.create_database()
    res = asyncio.run(run_scenario_async(os.path.join(SCENARIOS, "attendance_drops.toml"), url))
    assert res.passed
    r = _cli("verify", "--db", url)
    assert r.returncode == 0 and "hash chain intact" in r.stdout, r.stderr
    r = _cli("export", "--db", url, "--room", res.room, "--format", "attendance-csv")
    assert r.returncode == 0 and r.stdout.startswith("participant_id"), r.stdout[:200] + r.stderr
    r = _cli("replay", "--db", url, "--room", res.room, "--at", "0:10:00")
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    # a database that is not there: one line naming it, no traceback
    bad = url.rsplit("/", 1)[0] + "/nosuchdb"
    r = _cli("verify", "--db", bad)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "nosuchdb" in r.stderr, r.stderr


def test_migrate_copies_a_sqlite_record_and_keeps_it_verifiable(postgres, tmp_path):
    db = str(tmp_path / "old.db")
    res = asyncio.run(run_scenario_async(os.path.join(SCENARIOS, "evening_group_90min.toml"), db))
    assert res.passed
    url = postgres.create_database()
    r = _cli("migrate", "--from", db, "--to", url)
    assert r.returncode == 0 and "copied and verified" in r.stdout, r.stdout + r.stderr
    src, dst = open_record(db, readonly=True), open_record(url, readonly=True)
    assert list(src.events(res.room)) == list(dst.events(res.room))
    assert dst.verify().rows == src.verify().rows
    r = _cli("replay", "--db", url, "--room", res.room, "--json")
    r0 = _cli("replay", "--db", db, "--room", res.room, "--json")
    assert r.returncode == 0 and r.stdout == r0.stdout
    # into a database that already holds a record: refused, nothing added
    r = _cli("migrate", "--from", db, "--to", url)
    assert r.returncode == 1 and "already holds a record" in r.stderr
    assert dst.verify().rows == src.verify().rows


def test_a_server_on_postgresql_serves_and_restarts_from_it(postgres, tmp_path):
    """Durable before visible, and a restart folds the rooms back from PostgreSQL."""
    import secrets

    from protocol import commands as c
    from protocol.frames import Ack
    from server.app import EmbeddedServer
    from server.client import SessionClient
    url = postgres.create_database()
    secret = secrets.token_bytes(32)

    async def story():
        srv = await EmbeddedServer(url, secret).start()
        f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "Dana"))
        await f.connect()
        assert isinstance(await f.command(c.Configure(title="T", roster=[c.RosterEntry(id="p1", name="Alex")])), Ack)
        assert isinstance(await f.command(c.Open()), Ack)
        p = SessionClient(srv.url, srv.token("r1", "participant", "p1", "Alex"))
        await p.connect()
        assert isinstance(await f.command(c.Admit(target="p1")), Ack)
        await p.sync()
        r = await p.command(c.RaiseHand())
        assert isinstance(r, Ack)
        seq = r.seq
        await f.close()
        await p.close()
        await srv.stop()
        srv = await EmbeddedServer(url, secret).start()
        # with a shared record a room is folded when a server takes its lease, on first use
        assert "r1" not in srv.hub.rooms
        host = await srv.hub.take("r1")
        assert host.visible.queue == ["p1"] and host.visible.seq >= seq
        await srv.stop()
    asyncio.run(story())


def test_verify_beside_a_busy_writer_never_cries_wolf(spec):
    """verify runs beside a live server: rows added while it walks the chain are
    not a tampering (it reads one snapshot)."""
    import threading
    rec = open_record(spec)
    rec.append(_rows("r1", 5) + _rows("r2", 5))
    stop = threading.Event()

    def write():
        n = 6
        while not stop.is_set():
            rec.append(_rows("r1", 1, start=n) + _rows("r2", 1, start=n))
            n += 1
    t = threading.Thread(target=write)
    t.start()
    import time
    try:
        reader = open_record(spec, readonly=True)
        results = [reader.verify()]
        deadline = time.monotonic() + 20
        # keep verifying while the writer adds at least 40 rows
        while results[-1].rows < results[0].rows + 40 and time.monotonic() < deadline:
            results.append(reader.verify())
    finally:
        stop.set()
        t.join()
    bad = [r for r in results if not r.ok]
    assert not bad, bad[0]
    assert results[-1].rows > results[0].rows      # the writer really was writing meanwhile


def test_a_program_s_library_plays_and_reports_on_postgresql(postgres):
    """Programs, their sessions and the reports across them, on the shared record."""
    url = postgres.create_database()
    lib = os.path.join(SCENARIOS, "program_evening")
    r = _cli("replay", lib, "--db", url)
    assert r.returncode == 0 and "passed: 5 sessions" in r.stdout, r.stdout[-500:] + r.stderr[-500:]
    r = _cli("export", "--db", url, "--program", "iop-evening", "--format", "absences")
    assert r.returncode == 0 and r.stdout.startswith("member_id,name,date,room,status,reason,made_up_in")
    assert "p6,Taylor,2026-11-03,iop-evening-2026-11-03,absent,,iop-day-2026-11-04" in r.stdout
    assert "follow-up: p6" in r.stderr
    r = _cli("verify", "--db", url)
    assert r.returncode == 0 and "hash chain intact" in r.stdout
