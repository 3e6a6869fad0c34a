"""Stories about breakout rounds and replay: what is said in a breakout room stays
with that round's room, and what a participant gets on a reload or a resume is
judged by who could hear it when it was recorded, never by where they are now.

All on the real path: websockets on loopback, the real SQLite record."""
from __future__ import annotations

import msgspec
import pytest

from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack, Error
from server.record import Record

pytestmark = pytest.mark.asyncio


def recorded(db: str, room: str = "r1") -> list[tuple]:
    """(seq, at, aud, type, body) of a room's events, read from the SQLite file beside the server."""
    rec = Record(db, readonly=True)
    try:
        return list(rec.events(room))
    finally:
        rec.close()


def said(events) -> list[str]:
    return [x.ev.text for x in events if isinstance(x.ev, e.ChatPosted)]


def broadcasts(events) -> list[str]:
    return [x.ev.text for x in events if isinstance(x.ev, e.BreakoutsBroadcast)]


async def ok(client, cmd):
    r = await client.command(cmd)
    assert isinstance(r, Ack), r
    return r


async def arrange(f, rooms: list[list[str]], minutes: float = 10, override: bool = False):
    """Plans as many rooms as given, then moves everyone where the story wants them."""
    await ok(f, c.BreakoutsPlan(rooms=len(rooms), seed=1))
    for i, room in enumerate(rooms, start=1):
        for pid in room:
            await ok(f, c.BreakoutsMove(target=pid, room=i))
    return await f.command(c.BreakoutsOpen(minutes=minutes, override=override))


async def sync_all(group):
    for cl in group.clients.values():
        if cl.ws is not None and cl.close_code is None:
            await cl.sync()


async def two_rounds(group):
    """Round 1: p1 and p2 in room 1, p3 and p4 in room 2. Round 2: p1 and p2 in
    room 2, p3 and p4 in room 1. Each room talks, the rooms get a broadcast, p3
    asks for help in round 1's room 2. Returns the facilitator and p1's seq
    from before round 1."""
    f = await group.start(participants=("p1", "p2", "p3", "p4"))
    await group.admit("p1", "p2", "p3", "p4")
    p = group.clients
    before = p["p1"].last_seq
    assert isinstance(await arrange(f, [["p1", "p2"], ["p3", "p4"]]), Ack)
    await ok(p["p3"], c.Chat(text="round one, room two: my brother relapsed"))
    await ok(p["p2"], c.Chat(text="round one, room one: hello"))
    await ok(f, c.BreakoutsBroadcast(text="round one broadcast"))
    await ok(p["p3"], c.HelpRequest(text="round one help"))
    await ok(f, c.BreakoutsClose())
    assert isinstance(await arrange(f, [["p3", "p4"], ["p1", "p2"]]), Ack)
    await ok(p["p2"], c.Chat(text="round two, room two: hi again"))
    await ok(f, c.BreakoutsBroadcast(text="round two broadcast"))
    await sync_all(group)
    return f, before


async def test_breakout_audiences_name_the_round(group, server):
    await two_rounds(group)
    auds = {(t, a) for _s, _at, a, t, _b in recorded(server.db) if t in ("chat_posted", "breakouts_broadcast")}
    assert ("chat_posted", "b:1:2") in auds and ("chat_posted", "b:2:2") in auds
    assert ("breakouts_broadcast", "b:1:*") in auds and ("breakouts_broadcast", "b:2:*") in auds
    staff = server.hub.rooms["r1"].visible
    assert staff.round == 2
    (h,) = staff.help.values()
    assert (h.round, h.room) == (1, 2)


async def test_live_each_room_hears_only_its_own_round(group):
    await two_rounds(group)
    p = group.clients
    assert "round one, room two: my brother relapsed" not in said(p["p1"].events)
    assert "round one, room two: my brother relapsed" in said(p["p4"].events)
    assert "round two, room two: hi again" in said(p["p1"].events)
    assert "round two, room two: hi again" not in said(p["p3"].events)


async def test_a_reload_in_the_next_round_shows_no_earlier_round_of_the_same_room(group):
    await two_rounds(group)
    # p1 is in room 2 now; round one's room 2 was p3 and p4
    again = group.client("p1")
    w = await again.connect()
    assert not w.resumed
    texts = [line.text for line in w.state.chat]
    assert "round one, room two: my brother relapsed" not in texts
    assert "round one, room one: hello" in texts          # p1 was in that room then
    assert "round two, room two: hi again" in texts
    assert (w.state.my_room, w.state.round) == (2, 2)
    # and p3, in room 1 now, sees round one's room 2 (theirs), not round one's room 1
    p3 = group.client("p3")
    w3 = await p3.connect()
    t3 = [line.text for line in w3.state.chat]
    assert "round one, room two: my brother relapsed" in t3 and "round one, room one: hello" not in t3
    assert "round two, room two: hi again" not in t3
    assert [h.round for h in w3.state.my_help] == [1]


async def test_a_resume_in_the_next_round_replays_by_the_room_of_the_time(group):
    f, before = await two_rounds(group)
    again = group.client("p1")
    w = await again.connect(resume=before)
    await again.sync()
    assert w.resumed
    texts = said(again.events)
    assert "round one, room two: my brother relapsed" not in texts
    assert "round one, room one: hello" in texts
    assert "round two, room two: hi again" in texts
    # p1 was in a room of each round, so both broadcasts are theirs
    assert broadcasts(again.events) == ["round one broadcast", "round two broadcast"]
    assert not any(isinstance(x.ev, e.HelpRequested) for x in again.events)
    # and p3, in room 1 of round two, gets its own round-one room, not round two's room 2
    p3 = group.client("p3")
    await p3.connect(resume=before)
    await p3.sync()
    t3 = said(p3.events)
    assert "round one, room two: my brother relapsed" in t3 and "round two, room two: hi again" not in t3
    assert [x.ev.text for x in p3.events if isinstance(x.ev, e.HelpRequested)] == ["round one help"]


async def test_a_broadcast_goes_to_the_rooms_not_to_the_main_room(group):
    f = await group.start(participants=("p1", "p2", "p3"))
    await group.admit("p1", "p2")
    assert isinstance(await arrange(f, [["p1"], ["p2"]]), Ack)
    # admitted while the rooms are open: in the main room, in no breakout room
    await group.admit("p3")
    await ok(f, c.BreakoutsBroadcast(text="two minutes left"))
    await sync_all(group)
    assert broadcasts(group.clients["p1"].events) == ["two minutes left"]
    assert broadcasts(group.clients["p3"].events) == []


async def test_a_late_joiner_resuming_from_zero_gets_a_fresh_view_not_the_history(group):
    f = await group.start(participants=("p1", "p2", "p9"))
    await group.admit("p1", "p2")
    await ok(group.clients["p1"], c.Chat(text="before you came: I was in hospital"))
    await ok(f, c.Remove(target="p2", reason="intoxicated"))
    await group.clients["p1"].drop()
    # p9 waits, hears only their own waiting-room events, then is admitted
    p9 = group.client("p9")
    w = await p9.connect(resume=0)
    await p9.sync()
    assert w.resumed
    assert {type(x.ev) for x in p9.events} <= {e.ParticipantWaiting}
    assert all(x.aud == "p:p9" for x in p9.events)
    waited = p9.last_seq
    await ok(f, c.Admit(target="p9"))
    await ok(f, c.Chat(text="welcome, everyone"))
    await p9.sync()
    # a reconnect from seq 0, or from the waiting room: a fresh view, no replay
    for resume in (0, waited):
        again = group.client("p9")
        w = await again.connect(resume=resume)
        await again.sync()
        assert not w.resumed and w.state.status == "present"
        assert again.events == []
        texts = [line.text for line in w.state.chat]
        assert texts == ["welcome, everyone"]
        assert [pv.id for pv in w.state.present if pv.role == "participant"] == ["p9"]
    # from after the admission, an ordinary resume: only what came after
    again = group.client("p9")
    w = await again.connect(resume=waited + 1)
    await again.sync()
    assert w.resumed
    assert said(again.events) == ["welcome, everyone"]
    assert not any(isinstance(x.ev, (e.Removed, e.Dropped)) for x in again.events)


async def test_leaving_and_coming_back_does_not_bring_what_was_said_meanwhile(group):
    await group.start(participants=("p1", "p2"))
    await group.admit("p1", "p2")
    p1 = group.clients["p1"]
    await ok(p1, c.Chat(text="before I left"))
    await p1.sync()
    seen = p1.last_seq
    await ok(p1, c.Leave())
    await ok(group.clients["p2"], c.Chat(text="while p1 was gone"))
    back = group.client("p1")
    w = await back.connect(resume=seen)
    await back.sync()
    assert not w.resumed      # back through the door: a fresh picture, not the gap
    texts = [line.text for line in w.state.chat]
    assert "before I left" in texts and "while p1 was gone" not in texts
    # a drop is not a departure: what was said during it is replayed
    await back.sync()
    seen = back.last_seq
    await back.drop()
    await ok(group.clients["p2"], c.Chat(text="while p1 was cut off"))
    again = group.client("p1")
    w = await again.connect(resume=seen)
    await again.sync()
    assert w.resumed and said(again.events) == ["while p1 was cut off"]


async def test_opening_a_draft_that_breaks_a_rule_needs_override(group, server):
    f = group.client("f1", "facilitator", "Dana")
    await f.connect()
    roster = [c.RosterEntry(id="p3", name="Casey", apart=["p4"]), c.RosterEntry(id="p4", name="Drew"),
              c.RosterEntry(id="p1", name="Alex", together=["p2"]), c.RosterEntry(id="p2", name="Blake")]
    await ok(f, c.Configure(title="t", roster=roster))
    await ok(f, c.Open())
    for pid, name in (("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"), ("p4", "Drew")):
        await group.client(pid, name=name).connect()
        await ok(f, c.Admit(target=pid))
    r = await arrange(f, [["p1", "p3", "p4"], ["p2"], []])
    assert isinstance(r, Error) and r.code == "conflict", r
    assert "Casey and Drew must be kept apart" in r.message
    assert "Alex and Blake should be kept together" in r.message
    assert "p3" not in r.message and "p4" not in r.message      # names, never ids
    assert server.hub.rooms["r1"].visible.breakouts == "draft"
    r = await f.command(c.BreakoutsOpen(minutes=5, override=True))
    assert isinstance(r, Ack), r
    await sync_all(group)
    # the record keeps the override and the rules it set aside
    (body,) = [b for _s, _at, _a, t, b in recorded(server.db) if t == "breakouts_opened"]
    opened = msgspec.msgpack.decode(body, type=e.BreakoutsOpened)
    assert opened.override and opened.round == 1
    assert sorted(tuple(x) for x in opened.overridden) == [("apart", "p3", "p4"), ("together", "p1", "p2")]
    # staff see it; participants never learn who must be kept from whom
    (staff_copy,) = [x.ev for x in f.events if isinstance(x.ev, e.BreakoutsOpened)]
    assert staff_copy.override
    (theirs,) = [x.ev for x in group.clients["p1"].events if isinstance(x.ev, e.BreakoutsOpened)]
    assert not theirs.override and theirs.overridden == []


async def test_a_draft_within_the_rules_opens_without_override(group, server):
    f = await group.start(participants=("p1", "p2"))
    await group.admit("p1", "p2")
    assert isinstance(await arrange(f, [["p1"], ["p2"]]), Ack)
    (body,) = [b for _s, _at, _a, t, b in recorded(server.db) if t == "breakouts_opened"]
    opened = msgspec.msgpack.decode(body, type=e.BreakoutsOpened)
    assert not opened.override and opened.overridden == []


async def test_the_terminal_mirror_keeps_no_earlier_rounds_broadcasts_after_a_fresh_welcome(group):
    from facilitator.participant.mirror import ViewMirror
    f = await group.start(participants=("p1", "p2"))
    await group.admit("p1", "p2")
    p1 = group.clients["p1"]
    assert isinstance(await arrange(f, [["p1"], ["p2"]]), Ack)
    await ok(f, c.BreakoutsBroadcast(text="round one broadcast"))
    await p1.sync()
    m = ViewMirror.from_welcome(p1.welcome)
    for fr in p1.events:
        if fr.seq > p1.welcome.seq:
            m.apply(fr)
    assert [b.text for b in m.broadcasts] == ["round one broadcast"] and m.view.round == 1
    await p1.drop()
    await ok(f, c.BreakoutsClose())
    await ok(f, c.BreakoutsPlan(rooms=1))
    await ok(f, c.BreakoutsMove(target="p1", room=2))     # dropped, and still placed
    await ok(f, c.BreakoutsOpen(minutes=5))
    again = group.client("p1")
    w = await again.connect()
    fresh = ViewMirror.from_welcome(w, m)
    assert (fresh.view.breakouts, fresh.view.round, fresh.view.my_room) == ("open", 2, 2)
    assert fresh.broadcasts == []
    # within one round a fresh welcome keeps what this client was told: the server's view
    # holds the round's broadcasts they heard, so even a client that knew nothing has them
    await ok(f, c.BreakoutsBroadcast(text="round two broadcast"))
    await again.sync()
    for fr in again.events:
        fresh.apply(fr)
    assert [b.text for b in fresh.broadcasts] == ["round two broadcast"]
    w = await group.client("p1").connect()
    assert [b.text for b in ViewMirror.from_welcome(w, fresh).broadcasts] == ["round two broadcast"]
    assert [b.text for b in ViewMirror.from_welcome(w).broadcasts] == ["round two broadcast"]


async def test_a_record_from_before_rounds_had_numbers_is_judged_the_same_way(tmp_path):
    """Old records say `b:<n>` and carry no round: the fold counts the rounds, and a
    resume or a fresh view in round two still leaves round one's room 2 out."""
    import secrets
    from server.app import EmbeddedServer
    from server.record import Row

    def old(ev: e.Event) -> bytes:
        d = msgspec.to_builtins(ev)
        for k in ("round", "override", "overridden"):
            d.pop(k, None)          # the fields these events had before rounds had numbers
        return msgspec.msgpack.encode(d)

    people = ["p1", "p2", "p3", "p4"]
    story: list[tuple[str, e.Event]] = [
        ("staff", e.RoomConfigured(title="old", roster=[c.RosterEntry(id=p, name=p.upper()) for p in people])),
        ("all", e.SessionOpened()),
        *[(f"p:{p}", e.ParticipantWaiting(person=p, name=p.upper())) for p in people],
        *[("all", e.Admitted(person=p, name=p.upper())) for p in people],
        ("staff", e.BreakoutsPlanned(rooms=[["p1", "p2"], ["p3", "p4"]])),
        ("all", e.BreakoutsOpened(rooms=[["p1", "p2"], ["p3", "p4"]], ends_at=1e12)),
        ("b:2", e.ChatPosted(by="p3", name="P3", to="all", text="old round one, room two", room=2)),
        ("all", e.BreakoutsClosed()),
        ("staff", e.BreakoutsPlanned(rooms=[["p3", "p4"], ["p1", "p2"]])),
        ("all", e.BreakoutsOpened(rooms=[["p3", "p4"], ["p1", "p2"]], ends_at=1e12)),
        ("b:2", e.ChatPosted(by="p2", name="P2", to="all", text="old round two, room two", room=2)),
    ]
    db = str(tmp_path / "old.db")
    rec = Record(db)
    rec.append([Row("old", i, 1000.0 + i, None, "event", type(ev).__struct_config__.tag, aud, None, old(ev))
                for i, (aud, ev) in enumerate(story, start=1)])
    rec.close()
    admitted = 2 + 2 * len(people)
    srv = await EmbeddedServer(db, secrets.token_bytes(32)).start()
    try:
        host = srv.hub.room("old")
        assert host.visible.round == 2
        from server.client import SessionClient
        fresh = SessionClient(srv.url, srv.token("old", "participant", "p1", "P1"))
        w = await fresh.connect()
        assert [line.text for line in w.state.chat] == ["old round two, room two"]
        await fresh.close()
        again = SessionClient(srv.url, srv.token("old", "participant", "p1", "P1"))
        w = await again.connect(resume=admitted)
        await again.sync()
        assert w.resumed
        assert said(again.events) == ["old round two, room two"]
        await again.close()
        p3 = SessionClient(srv.url, srv.token("old", "participant", "p3", "P3"))
        await p3.connect(resume=admitted)
        await p3.sync()
        assert said(p3.events) == ["old round one, room two"]
        await p3.close()
    finally:
        await srv.stop()


async def test_a_plan_that_cannot_keep_the_rules_names_them_by_display_names(group):
    f = group.client("f1", "facilitator", "Dana")
    await f.connect()
    roster = [c.RosterEntry(id="p3", name="Casey", apart=["p4"]), c.RosterEntry(id="p4", name="Drew"),
              c.RosterEntry(id="p1", name="Alex", together=["p2"]), c.RosterEntry(id="p2", name="Blake")]
    await ok(f, c.Configure(title="t", roster=roster))
    await ok(f, c.Open())
    for pid, name in (("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"), ("p4", "Drew")):
        await group.client(pid, name=name).connect()
        await ok(f, c.Admit(target=pid))
    r = await f.command(c.BreakoutsPlan(rooms=1))
    assert isinstance(r, Error) and r.code == "conflict"
    assert "Casey" in r.message and "Drew" in r.message and "p3" not in r.message, r.message
    r = await f.command(c.BreakoutsPlan(rooms=2))
    assert isinstance(r, Error) and r.code == "conflict"
    assert r.message == "no assignment keeps every rule in rooms of sizes 2, 2: together Alex, Blake; apart Casey, Drew"
    r = await f.command(c.BreakoutsPlan(rooms=2, apart=[["p1", "p3"]], together=[["p3", "p2"]]))
    assert isinstance(r, Error) and r.message.startswith("cannot keep"), r.message
    assert "p1" not in r.message and "p2" not in r.message and "p3" not in r.message, r.message


async def test_rules_are_set_and_dropped_during_the_session_for_staff_only(group, server):
    f = await group.start(participants=("p1", "p2", "p3"))
    await group.admit("p1", "p2", "p3")
    await ok(f, c.BreakoutsRule(kind="apart", target="p1", other="p2"))
    st = server.hub.rooms["r1"].visible
    assert st.members["p1"].apart == ["p2"] and st.members["p2"].apart == ["p1"]
    r = await f.command(c.BreakoutsRule(kind="together", target="p2", other="p1"))
    assert isinstance(r, Error) and r.code == "conflict" and "kept apart" in r.message, r
    # the planner keeps the new rule
    for seed in range(5):
        await ok(f, c.BreakoutsPlan(rooms=2, seed=seed))
        assert not any({"p1", "p2"} <= set(room) for room in st.rooms)
    await ok(f, c.BreakoutsRule(kind="apart", target="p2", other="p1", remove=True))
    assert st.members["p1"].apart == [] and st.members["p2"].apart == []
    r = await f.command(c.BreakoutsRule(kind="apart", target="p2", other="p1", remove=True))
    assert isinstance(r, Error) and r.code == "conflict"
    r = await group.clients["p1"].command(c.BreakoutsRule(kind="apart", target="p1", other="p3"))
    assert isinstance(r, Error) and r.code == "forbidden"
    await sync_all(group)
    for pid in ("p1", "p2", "p3"):
        assert not any(isinstance(x.ev, e.BreakoutRuleChanged) for x in group.clients[pid].events)
    assert sum(isinstance(x.ev, e.BreakoutRuleChanged) for x in f.events) == 2


async def test_the_access_campaign_notices_another_rounds_room_and_a_time_before_admission(tmp_path):
    """The campaign's own check (a fold of the record, not server/engine/hearing.py)
    must catch both leaks, or its figures prove nothing."""
    from campaigns.access import inspect_frame
    from campaigns.common import Figures
    from campaigns.recordview import RecordView
    from protocol.frames import EventFrame
    from server.record import Row
    story = [
        ("staff", e.RoomConfigured(roster=[c.RosterEntry(id=p, name=p) for p in ("p1", "p2", "p3")])),
        ("all", e.SessionOpened()),
        ("all", e.Admitted(person="p1", name="p1")), ("all", e.Admitted(person="p2", name="p2")),
        ("all", e.BreakoutsOpened(rooms=[["p1"], ["p2"]], ends_at=1e12, round=1)),
        ("b:1:2", e.ChatPosted(by="p2", name="p2", to="all", text="mine", room=2, round=1)),
        ("all", e.BreakoutsClosed()),
        ("all", e.Admitted(person="p3", name="p3")),
    ]
    db = str(tmp_path / "r.db")
    rec = Record(db)
    rec.append([Row("r", i, float(i), None, "event", type(ev).__struct_config__.tag, aud, None,
                    msgspec.msgpack.encode(ev)) for i, (aud, ev) in enumerate(story, start=1)])
    rec.close()

    class Sc:
        path, room = "fake.toml", "r"

    def check(me: str, seq: int) -> list:
        fig = Figures("access", 0, True)
        view = RecordView(db)
        view.refresh()
        aud, ev = story[seq - 1]
        inspect_frame(fig, Sc, me, EventFrame(seq=seq, at=float(seq), aud=aud, ev=ev), view, [])
        return fig.failures
    assert check("p2", 6) == []                 # p2 was in round 1's room 2
    assert check("p1", 6)                       # p1 was in room 1
    assert check("p3", 5)                       # p3 came in after it all
    assert check("p1", 7) == []


async def test_hearing_judges_each_seq_by_the_span_and_stay_it_falls_in():
    """The history's edges, one by one: in after the event that let you in, out after
    the one that took you out, a drop changes nothing, and moves end one stay."""
    from protocol.state import Member
    from server.engine.hearing import enter, hears, leave, stay, end_stay
    m = Member(id="p1", name="A")
    enter(m, 5)          # admitted at 5
    stay(m, 1, 2, 10)    # round 1 opens at 10: room 2
    stay(m, 1, 3, 14)    # moved at 14 to room 3
    end_stay(m, 20)      # round 1 closes at 20
    leave(m, 25)         # left at 25
    enter(m, 30)         # came back at 30
    h = lambda aud, seq: hears(aud, seq, "p1", "participant", m)  # noqa: E731
    assert [h("all", s) for s in (4, 5, 6, 25, 26, 30, 31)] == [False, False, True, True, False, False, True]
    assert [h("b:1:2", s) for s in (10, 11, 14, 15)] == [False, True, True, False]
    assert [h("b:1:3", s) for s in (14, 15, 20, 21)] == [False, True, True, False]
    assert h("b:1:*", 12) and not h("b:2:*", 12) and not h("b:2:2", 12)
    assert h("b:2", 12) and h("b:3", 16) and not h("b:2", 16)       # records before rounds had numbers
    assert h("p:p1", 1) and not h("p:p2", 12) and not h("staff", 12)
    assert hears("staff", 1, "o1", "observer", None)


async def test_a_late_joiner_sees_the_polls_still_open_not_those_over_before_they_came(group):
    f = await group.start(participants=("p1", "p9"))
    await group.admit("p1")
    await ok(f, c.PollCreate(id="used", question="Did you use this week?", options=["yes", "no"]))
    await ok(f, c.PollOpen(id="used"))
    await ok(group.clients["p1"], c.Vote(id="used", choice="yes"))
    await ok(f, c.PollClose(id="used"))
    await ok(f, c.PollShare(id="used"))
    await ok(f, c.PollCreate(id="mood", question="Mood?", kind="scale", min=0, max=10))
    await ok(f, c.PollOpen(id="mood"))
    await group.admit("p9")
    w = group.clients["p9"].welcome
    assert [p.id for p in w.state.polls] == ["mood"]
    # p1 was there when it closed: theirs still, on a reload too
    again = group.client("p1")
    w1 = await again.connect()
    assert sorted(p.id for p in w1.state.polls) == ["mood", "used"]
