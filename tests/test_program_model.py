"""The program's fold, its place in the record, and a server living beside it."""
from __future__ import annotations

import datetime as dt
import os
import secrets

import msgspec
import pytest

from protocol import commands as c
from protocol.frames import Ack
from server.app import EmbeddedServer
from server.client import ClientError, SessionClient
from server.programs import join_links, load_program, open_session, tonight
from server.programs.model import (
    MakeupRecorded, MemberDischarged, MemberEnrolled, Program, ProgramDefined, Slot, evolve_program,
    fold_program,
)
from server.programs.spec import load as load_spec
from server.programs.store import append, import_events
from server.record import Record
from tests.conftest import SCENARIOS

PROGRAM = os.path.join(SCENARIOS, "program_evening", "program.toml")


def test_the_fold_is_pure_and_replays_the_same():
    events = [ProgramDefined(id="g", title="G", timezone="Europe/Paris",
                             schedule=[Slot(weekday="mon", start="19:00", minutes=60)]),
              MemberEnrolled(member="a", name="Ana", enrolled="2026-01-05"),
              MemberDischarged(member="a", date="2026-02-01"),
              MemberEnrolled(member="a", name="Ana", enrolled="2026-03-02"),
              MakeupRecorded(member="a", missed="r1", made_up_in="r2"),
              MakeupRecorded(member="a", missed="r1", made_up_in="r3")]
    one, two = fold_program("g", events), fold_program("g", events)
    assert msgspec.msgpack.encode(one) == msgspec.msgpack.encode(two)
    a = one.members["a"]
    assert (a.enrolled, a.discharged) == ("2026-03-02", None)      # re-enrolled: a new enrolment
    assert not a.enrolled_on(dt.date(2026, 2, 15)) and a.enrolled_on(dt.date(2026, 3, 2))
    assert one.made_up_in("a", "r1") == "r3"                        # a correction is a new event
    # a correction of the enrolment date within the same enrolment keeps its discharge
    p = fold_program("g", events[:3])
    evolve_program(p, MemberEnrolled(member="a", name="Ana", enrolled="2026-01-12"))
    assert p.members["a"].discharged == "2026-02-01"


def test_tonight_is_the_local_date_in_the_programs_zone():
    p = fold_program("g", [ProgramDefined(id="g", title="G", timezone="America/Chicago",
                                          schedule=[Slot(weekday="tue", start="18:00", minutes=90)])])
    # 03:00 UTC on Wednesday 4 Nov is still Tuesday evening in Chicago
    t = dt.datetime(2026, 11, 4, 3, 0, tzinfo=dt.timezone.utc).timestamp()
    [s] = tonight(p, t)
    assert s["room"] == "g-2026-11-03" and s["date"] == "2026-11-03"
    assert s["start"] == dt.datetime(2026, 11, 4, 0, 0, tzinfo=dt.timezone.utc).timestamp()
    assert tonight(p, t + 86400) == []


def test_a_program_lives_in_the_chain_but_is_never_a_room(tmp_path):
    db = str(tmp_path / "r.db")
    rec = Record(db)
    spec = load_spec(PROGRAM)
    p = Program(id="iop-evening")
    append(rec, p, import_events(None, spec))
    assert rec.program_rooms() == ["~program:iop-evening"]
    assert rec.rooms() == [] and rec.open_rooms() == {}
    assert rec.verify().ok
    # the fold of what was written is the program as it was folded while writing
    assert msgspec.msgpack.encode(load_program(rec, "iop-evening")) == msgspec.msgpack.encode(p)
    assert import_events(p, spec) == []
    rec.close()


async def test_a_server_starts_beside_programs_and_opens_a_session_from_one(tmp_path):
    db = str(tmp_path / "r.db")
    rec = Record(db)
    append(rec, Program(id="iop-evening"), import_events(None, load_spec(PROGRAM)))
    p = load_program(rec, "iop-evening")
    rec.close()
    secret = secrets.token_bytes(32)
    srv = EmbeddedServer(db, secret)
    await srv.start()
    try:
        day = dt.date(2026, 11, 10)
        room = await open_session(srv.hub, p, day)
        assert room == "iop-evening-2026-11-10"
        state = srv.hub.room(room).visible
        assert state.program == "iop-evening" and state.title == "Evening IOP: relapse prevention"
        links = join_links(secret, p, day, srv.url.replace("ws", "http", 1))
        assert [x["id"] for x in links] == ["dana", "lee", "p1", "p2", "p3", "p4", "p6", "p7"]
        lee = next(x for x in links if x["id"] == "lee")
        cl = SessionClient(srv.url, lee["token"], name="lee")
        await cl.connect()
        r = await cl.command(c.Open())
        assert isinstance(r, Ack), r
        await cl.close()
        # nobody can open a session in a program's own log
        from server import tokens
        bad = tokens.sign(secret, tokens.Claims(room="~program:iop-evening", role="facilitator", id="x",
                                                name="X", exp=9e9))
        with pytest.raises(ClientError):
            await SessionClient(srv.url, bad, name="x").connect()
    finally:
        await srv.stop()
    # and a restart folds the session back, leaving the program's log alone
    srv = EmbeddedServer(db, secret)
    await srv.start()
    try:
        assert srv.hub.room("iop-evening-2026-11-10").visible.phase == "open"
        assert "~program:iop-evening" not in srv.hub.rooms
    finally:
        await srv.stop()
    rec = Record(db, readonly=True)
    assert rec.verify().ok
    rec.close()


async def test_a_live_room_named_after_a_program_session_sets_itself_up(tmp_path):
    """On a real server nobody writes a scenario: the first person to connect to
    `iop-evening-2026-11-12` finds the room configured from the program."""
    db = str(tmp_path / "r.db")
    rec = Record(db)
    append(rec, Program(id="iop-evening"), import_events(None, load_spec(PROGRAM)))
    rec.close()
    srv = EmbeddedServer(db, secrets.token_bytes(32))
    await srv.start()
    try:
        dana = SessionClient(srv.url, srv.token("iop-evening-2026-11-12", "facilitator", "dana", "Dana"),
                             name="dana")
        await dana.connect()
        assert isinstance(await dana.command(c.Open()), Ack)
        cl = SessionClient(srv.url, srv.token("iop-evening-2026-11-12", "participant", "p7", "Morgan"), name="p7")
        await cl.connect()
        await dana.sync()
        state = srv.hub.room("iop-evening-2026-11-12").visible
        assert (state.program, state.date, state.capacity) == ("iop-evening", "2026-11-12", 10)
        assert sorted(m.id for m in state.members.values() if m.expected) == ["p1", "p2", "p3", "p4", "p6", "p7"]
        assert state.members["p7"].status == "waiting" and state.members["dana"].role == "facilitator"
        await cl.close()
        await dana.close()
        # a room that only looks like one (no such program) stays as it was
        cl = SessionClient(srv.url, srv.token("book-club-2026-11-12", "facilitator", "f", "F"), name="f")
        await cl.connect()
        await cl.close()
        assert srv.hub.room("book-club-2026-11-12").visible.program == ""
    finally:
        await srv.stop()
