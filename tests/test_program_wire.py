"""Issue 15 item 2 over the wire: a console connected to a running server reads and changes
programs through `ask` frames; only staff are answered, only the facilitator changes one,
and program data never reaches a participant's connection."""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import zoneinfo

import msgspec
import pytest

from protocol import programs as q
from protocol import commands as c
from protocol.frames import Ack, Answer, Error
from server.app import EmbeddedServer
from server.client import SessionClient
from server.programs import store
from server.programs.spec import load
from server.record import open_record
from tests.conftest import SCENARIOS

PROGRAM = os.path.join(SCENARIOS, "program_evening", "program.toml")
SECRET = b"s" * 32


@pytest.fixture
async def served(tmp_path):
    path = str(tmp_path / "record.db")
    rec = open_record(path)
    spec = load(PROGRAM)
    p = store.Program(id=spec.defined.id)
    store.append(rec, p, store.import_events(None, spec))
    rec.close()
    server = await EmbeddedServer(path, SECRET).start()
    clients: list[SessionClient] = []

    async def connect(room: str, role: str, person: str, name: str = "X") -> SessionClient:
        c = SessionClient(server.url, server.token(room, role, person, name))
        await c.connect()
        clients.append(c)
        return c
    yield server, connect, path
    for client in clients:
        await client.close()
    await server.stop()


def _tonight() -> str:
    return "iop-evening-" + dt.datetime.now(zoneinfo.ZoneInfo("America/Chicago")).date().isoformat()


async def test_the_programs_facilitator_reads_changes_and_issues_links_over_the_wire(served):
    server, connect, path = served
    dana = await connect("lobby", "facilitator", "dana", "Dana")     # on the program's staff
    listed = await dana.ask(q.ProgramList())
    assert isinstance(listed, Answer) and [s["program"]["id"] for s in listed.data] == ["iop-evening"]
    got = await dana.ask(q.ProgramGet(program="iop-evening"))
    assert got.data["data"]["timezone"] == "America/Chicago"
    assert got.data["trends"] == {m: {} for m in got.data["program"]["members"]}

    p = msgspec.convert(got.data["program"], store.Program)
    settings = msgspec.to_builtins(store.settings_of(p))
    settings["capacity"] = 12
    changed = await dana.ask(q.ProgramChange(program="iop-evening", events=[settings], based_on=p.changes))
    assert isinstance(changed, Answer) and changed.data["program"]["capacity"] == 12
    # the same form saved again over the copy it was opened with: refused, nothing recorded
    settings["capacity"] = 9
    stale = await dana.ask(q.ProgramChange(program="iop-evening", events=[settings], based_on=p.changes))
    assert isinstance(stale, Error) and stale.code == "invalid" and "changed meanwhile (1 change(s)" in stale.message
    settings["capacity"] = 12
    # the program file's own checks, with its words
    settings["timezone"] = "Mars/Olympus"
    bad = await dana.ask(q.ProgramChange(program="iop-evening", events=[settings]))
    assert isinstance(bad, Error) and bad.code == "invalid" and "unknown time zone 'Mars/Olympus'" in bad.message
    enrol = {"type": "member_enrolled", "member": "p9", "name": "Jamie", "enrolled": "2026-12-01",
             "apart": ["nobody"]}
    bad = await dana.ask(q.ProgramChange(program="iop-evening", events=[enrol]))
    assert bad.code == "invalid" and "'nobody', who is not a member" in bad.message

    links = await dana.ask(q.ProgramLinks(program="iop-evening", date="2026-11-03", base_url="http://h:1"))
    assert {x["role"] for x in links.data} == {"facilitator", "cofacilitator", "participant"}
    assert all(x["link"].startswith("http://h:1/") for x in links.data if x["role"] == "participant")

    made = dict(settings, id="iop-weekend", timezone="Europe/Berlin", title="Weekend",
                staff=[{"id": "dana", "name": "Dana", "role": "facilitator"}])
    created = await dana.ask(q.ProgramChange(program="iop-weekend", events=[made], create=True))
    assert isinstance(created, Answer)
    again = await dana.ask(q.ProgramChange(program="iop-weekend", events=[made], create=True))
    assert again.code == "invalid" and "already exists" in again.message
    await server.hub.flush()
    rec = open_record(path, readonly=True)
    try:
        assert store.load_program(rec, "iop-evening").capacity == 12
        assert store.load_program(rec, "iop-weekend").timezone == "Europe/Berlin"
    finally:
        rec.close()
    # audited: who changed it, in the same hash chain as the sessions
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT room, actor, type FROM log WHERE actor = 'console:dana'").fetchall()
    assert ("~program:iop-evening", "console:dana", "program_defined") in rows
    assert ("~program:iop-weekend", "console:dana", "program_defined") in rows


async def test_only_staff_are_answered_and_only_the_facilitator_changes(served):
    server, connect, _ = served
    room = _tonight()
    lee = await connect(room, "cofacilitator", "lee", "Lee")
    assert isinstance(await lee.ask(q.ProgramGet(program="iop-evening")), Answer)
    refused = await lee.ask(q.ProgramChange(program="iop-evening", events=[{"type": "member_discharged",
                                                                             "member": "p1", "date": "2026-12-01"}]))
    assert refused.code == "forbidden"
    assert (await lee.ask(q.ProgramLinks(program="iop-evening", date="2026-11-03"))).code == "forbidden"
    watcher = await connect(room, "observer", "o1")
    assert (await watcher.ask(q.ProgramList())).code == "forbidden"
    # need to know: a facilitator of another room, not on the program's staff, sees nothing of it
    other = await connect("another-room", "facilitator", "kim")
    assert (await other.ask(q.ProgramList())).data == []
    assert (await other.ask(q.ProgramGet(program="iop-evening"))).code == "not_found"


async def test_a_participant_asking_is_forbidden_and_never_receives_program_data(served):
    server, connect, path = served
    room = _tonight()
    dana = await connect(room, "facilitator", "dana", "Dana")
    assert isinstance(await dana.command(c.Open()), Ack)
    alex = await connect(room, "participant", "p1", "Alex")
    frames: list = []
    alex.on_frame = frames.append
    for ask in (q.ProgramList(), q.ProgramGet(program="iop-evening"),
                q.ProgramLinks(program="iop-evening", date="2026-11-03"),
                q.ProgramChange(program="iop-evening", events=[{"type": "member_discharged", "member": "p2",
                                                                 "date": "2026-11-04"}])):
        r = await alex.ask(ask)
        assert isinstance(r, Error) and r.code == "forbidden", r
    # staff work on the program meanwhile: none of it reaches the participant
    await dana.ask(q.ProgramGet(program="iop-evening"))
    await dana.ask(q.ProgramLinks(program="iop-evening", date="2026-11-03"))
    await alex.sync()
    assert not any(isinstance(f, Answer) for f in frames)
    seen = repr(frames)
    for secret in ("Casey", "Riley", "2026-11-05", "weekly_hours_target", "America/Chicago"):
        assert secret not in seen, secret
    # each refusal is audited in the asker's room, as a refused command is
    await server.hub.flush()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT room, actor, type FROM log WHERE kind = 'rejected' AND type LIKE 'program%'"
                          ).fetchall()
    assert sorted(rows) == sorted((room, "p1", t) for t in ("program_list", "program_get", "program_links",
                                                            "program_change"))


async def test_a_program_change_the_record_cannot_take_is_refused_and_the_connection_stays(served):
    """A full disk while the facilitator edits a program: one clear refusal, nothing half
    written, the console's connection and its room untouched, and the same change goes in
    once writing works again."""
    from tests.test_write_faults import allow_growth, limit_growth
    server, connect, path = served
    room = _tonight()
    dana = await connect(room, "facilitator", "dana", "Dana")
    assert isinstance(await dana.command(c.Open()), Ack)
    got = await dana.ask(q.ProgramGet(program="iop-evening"))
    before = got.data["program"]["changes"]
    # more than the free room in the record's last page: the write needs a new one
    enrol = [{"type": "member_enrolled", "member": f"n{i}", "name": "Jamie " + "J" * 150, "enrolled": "2026-12-01"}
             for i in range(30)]
    await server.hub.flush()
    limit_growth(server)
    refused = await dana.ask(q.ProgramChange(program="iop-evening", events=enrol))
    assert isinstance(refused, Error) and refused.code == "unavailable", refused
    assert refused.message == "the record cannot be used now (the disk is full); nothing was changed, try again"
    # the connection is alive and the program unchanged
    again = await dana.ask(q.ProgramGet(program="iop-evening"))
    assert isinstance(again, Answer) and again.data["program"]["changes"] == before
    assert "n0" not in again.data["program"]["members"]
    allow_growth(server)
    done = await dana.ask(q.ProgramChange(program="iop-evening", events=enrol))
    assert isinstance(done, Answer) and {f"n{i}" for i in range(30)} <= done.data["program"]["members"].keys()
    assert done.data["changes"] == before + 30
    assert isinstance(await dana.command(c.Chat(text="still here")), Ack)
