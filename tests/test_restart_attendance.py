"""A restart with people who never return: a stop is a drop for everyone connected.

Before, a restart found everyone who had been connected still present: those who
never came back were credited the downtime and everything after it, their drop
grace never started, and their seats stayed taken (a newcomer got `full`)."""
from __future__ import annotations

import asyncio
import os
import secrets

from protocol import commands as c
from protocol.frames import Ack, Error
from server.app import EmbeddedServer
from server.attendance import attendance_rows
from server.client import SessionClient
from server.engine.admission import attended_seconds
from server.record import Record

ROSTER = [c.RosterEntry(id=p, name=p.upper()) for p in ("p1", "p2", "p3")]


async def _until(pred, what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def _group(srv: EmbeddedServer, grace: int) -> dict[str, SessionClient]:
    """A facilitator and p1, p2 admitted into a room of two seats."""
    f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "F"))
    await f.connect()
    assert isinstance(await f.command(c.Configure(title="t", capacity=2, drop_grace=grace, roster=ROSTER)), Ack)
    assert isinstance(await f.command(c.Open()), Ack)
    out = {"f1": f}
    for pid in ("p1", "p2"):
        p = SessionClient(srv.url, srv.token("r1", "participant", pid, pid.upper()))
        await p.connect()
        assert isinstance(await f.command(c.Admit(target=pid)), Ack)
        await p.sync()
        out[pid] = p
    return out


def _stop_drops(db: str) -> list[tuple]:
    """(seq, at, actor, type) of the rows the server wrote for a stop."""
    rec = Record(db, readonly=True)
    try:
        return [(seq, at, actor, typ) for _id, _room, seq, at, actor, _kind, typ, *_ in rec.rows("r1")
                if actor == "system" and typ in ("dropped", "staff_left")]
    finally:
        rec.close()


async def test_a_graceful_stop_is_a_drop_and_the_grace_runs_from_it(tmp_path):
    db, key = str(tmp_path / "r.db"), secrets.token_bytes(32)
    srv = await EmbeddedServer(db, key).start()
    people = await _group(srv, grace=2)
    admitted = srv.hub.rooms["r1"].visible.members["p1"].present_since
    await asyncio.sleep(0.5)
    stopped_at = srv.clock.now()
    await srv.stop()
    for cl in people.values():
        await cl.close()
    drops = _stop_drops(db)
    # recorded, in the chain, at the moment of the stop: p1, p2 dropped, the facilitator too
    assert sorted(t for *_, t in drops) == ["dropped", "dropped", "staff_left"]
    assert all(abs(at - stopped_at) < 0.5 for _s, at, _a, _t in drops)
    assert Record(db, readonly=True).verify().ok

    await asyncio.sleep(1.0)        # downtime: within the 2 s grace, counted if they return
    srv = await EmbeddedServer(db, key).start()
    try:
        st = srv.hub.rooms["r1"].visible
        assert {st.members[p].status for p in ("p1", "p2")} == {"dropped"}
        f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "F"))
        await f.connect()
        # p2 comes back inside the grace: the drop is forgiven, downtime included
        p2 = SessionClient(srv.url, srv.token("r1", "participant", "p2", "P2"))
        await p2.connect()
        await p2.sync()
        assert srv.hub.rooms["r1"].visible.members["p2"].status == "present"
        # seats are held within the grace: a newcomer waits and cannot be admitted
        p3 = SessionClient(srv.url, srv.token("r1", "participant", "p3", "P3"))
        await p3.connect()
        r = await f.command(c.Admit(target="p3"))
        assert isinstance(r, Error) and r.code == "full", r
        # p1 never returns: the grace, counted from the stop, runs out by itself
        await _until(lambda: srv.hub.rooms["r1"].visible.members["p1"].drop_overdue, "p1's grace to end")
        assert isinstance(await f.command(c.Admit(target="p3")), Ack)
        m1 = srv.hub.rooms["r1"].visible.members["p1"]
        got = attended_seconds(m1, srv.clock.now())
        assert abs(got - (stopped_at - admitted)) < 0.3, got      # up to the stop, not a second more
        assert m1.last_left is not None and abs(m1.last_left - stopped_at) < 0.5
        m2 = srv.hub.rooms["r1"].visible.members["p2"]
        assert attended_seconds(m2, srv.clock.now()) > srv.clock.now() - admitted - 0.5   # downtime credited
        for cl in (f, p2, p3):
            await cl.close()
    finally:
        await srv.stop()


async def test_after_a_crash_the_drop_is_dated_at_the_last_recorded_event(tmp_path):
    """SIGKILL of a real `session-server serve`: nothing recorded the stop, so the
    restart records the drops itself, at the room's last recorded event."""
    from campaigns.common import ServerProcess, make_secret
    work = str(tmp_path)
    make_secret(os.path.join(work, "secret"))
    proc = ServerProcess(work).start()
    try:
        class Srv:        # what _group needs of a server
            url = proc.url

            @staticmethod
            def token(room, role, pid, name):
                return proc.token(room, role, pid, name)
        people = await _group(Srv, grace=1)
        await people["f1"].command(c.Chat(text="the last thing the record holds"))
        await asyncio.sleep(0.3)
    finally:
        proc.kill()
    for cl in people.values():
        await cl.drop()
    rec = Record(proc.db, readonly=True)
    last_at = max(at for _i, _r, _s, at, *_ in rec.rows("r1"))
    rec.close()
    assert _stop_drops(proc.db) == []          # a crash records nothing

    await asyncio.sleep(1.2)                   # longer than the grace
    srv = await EmbeddedServer(proc.db, proc.secret()).start()
    try:
        drops = _stop_drops(proc.db)
        assert sorted(t for *_, t in drops) == ["dropped", "dropped", "staff_left"]
        assert all(at == last_at for _s, at, _a, _t in drops)
        assert Record(proc.db, readonly=True).verify().ok
        # the grace had run out during the downtime: the seats are freed at once
        await _until(lambda: all(srv.hub.rooms["r1"].visible.members[p].drop_overdue for p in ("p1", "p2")),
                     "the graces to end")
        rows = {r.participant_id: r for r in attendance_rows(srv.hub.rooms["r1"].visible, srv.clock.now())}
        for p in ("p1", "p2"):
            m = srv.hub.rooms["r1"].visible.members[p]
            assert m.last_left == last_at
            assert abs(rows[p].minutes_present * 60 - (last_at - m.first_joined)) < 1e-6
        f = SessionClient(srv.url, srv.token("r1", "facilitator", "f1", "F"))
        await f.connect()
        p3 = SessionClient(srv.url, srv.token("r1", "participant", "p3", "P3"))
        await p3.connect()
        assert isinstance(await f.command(c.Admit(target="p3")), Ack)     # a seat, not `full`
        # and one who comes back late returns to the room without waiting, as after any drop
        p1 = SessionClient(srv.url, srv.token("r1", "participant", "p1", "P1"))
        await p1.connect()
        await p1.sync()
        assert srv.hub.rooms["r1"].visible.members["p1"].status == "present"
        for cl in (f, p3, p1):
            await cl.close()
    finally:
        await srv.stop()


async def test_after_the_stops_drops_a_hello_is_told_to_come_back(tmp_path):
    """Once the stop's drops are recorded, an arrival would be a presence no connection
    backs after the restart: it is refused with `unavailable` (not final: clients retry)."""
    from server.client import ClientError
    srv = await EmbeddedServer(str(tmp_path / "r.db"), secrets.token_bytes(32)).start()
    try:
        people = await _group(srv, grace=60)
        await srv.hub.record_stop()
        assert srv.hub.rooms["r1"].visible.members["p1"].status == "dropped"
        late = SessionClient(srv.url, srv.token("r1", "participant", "p1", "P1"))
        try:
            await late.connect()
        except ClientError as exc:
            assert exc.args[0] == "unavailable", exc.args
        else:
            raise AssertionError("a hello during the stop was let in")
        assert srv.hub.rooms["r1"].visible.members["p1"].status == "dropped"
        for cl in people.values():
            await cl.close()
    finally:
        await srv.stop()
