"""One participant view: folding what a participant receives, from their welcome, gives
exactly `participant_view` of the server's room at that seq. For every scenario and
every participant, at every event (issue 13, section 1).

Each scenario is played on a real server (the runner), and its record read back. The
stream each participant gets is rebuilt the way the hub sends it (`Hub._deliver` and
`Hub._join`): an event reaches them when `hearing.hears` says so, judged on the room as
it was before the event; a fresh welcome follows their knock, their admission and their
return; a drop, a leaving, a removal, a denial and the close end their connection, after
it; a drop before it. With `resume`, a reconnect asks to resume from the last seq it had,
and the hub's rule decides: from at or after their latest entry into the room, the
events after that seq that they could hear when recorded; from before it, a fresh
welcome. Every view and event crosses the wire (encoded and decoded) as it would."""
from __future__ import annotations

import glob
import os

import msgspec
import pytest

from protocol import events as e
from protocol.state import ParticipantView
from server import engine
from server.engine.hearing import entered_at, hears
from server.engine.view_fold import evolve_view
from server.engine.views import for_participants, participant_view
from server.record.sqlite import Record
from server.review import fold_until
from server.scenarios.runner import run_scenario_async

SCENARIOS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "scenarios", "*.toml")))
WIRE = msgspec.msgpack.Encoder()
VIEW = msgspec.msgpack.Decoder(ParticipantView)
EVENT = msgspec.msgpack.Decoder(e.AnyEvent)

# what a connection's hello records for the person named (`engine.connect`), what the
# hub follows with a fresh welcome, and what ends their connection
JOINS = (e.ParticipantWaiting, e.Returned)
HANG_UP = (e.Left, e.Removed, e.Denied)        # received, then the server closes the connection
GONE = (e.Dropped, e.WaitingLeft)               # recorded after the connection has gone


def wire(view: ParticipantView) -> ParticipantView:
    return VIEW.decode(WIRE.encode(view))


def sent(ev: e.Event) -> e.Event:
    """The event as a participant's connection gets it."""
    return EVENT.decode(WIRE.encode(for_participants(ev)))


def join(state, person: str, parked: ParticipantView | None, past: list, stats: dict | None):
    """The hub's `_join` for a participant whose hello was just recorded: a resume from the
    parked view's seq if it is at or after their latest entry, else a fresh welcome."""
    m = state.members[person]
    since = entered_at(m)
    if parked is None or (since is not None and parked.seq < since):
        if parked is not None and stats is not None:
            stats["afresh"] = stats.get("afresh", 0) + 1
        return wire(participant_view(state, person))
    if stats is not None:
        stats["resumed"] = stats.get("resumed", 0) + 1
    v = parked
    for at, seq, aud, ev in past:
        # judged by who could hear it when it was recorded, on the person as they are now
        if seq > parked.seq and hears(aud, seq, person, "participant", m):
            v = evolve_view(v, sent(ev), at, seq)
    return v


def streams(history, room: str, participants: list[str], resume: bool, stats: dict | None = None):
    """Yields (seq, person, folded view, the server's view) at every event, for everyone connected.

    With `resume`, a participant who drops, or leaves and comes back, reconnects with the seq
    of the last event they had, as the clients do; the hub answers as `join` above."""
    state = engine.new_room(room)
    views: dict[str, ParticipantView | None] = {p: None for p in participants}
    parked: dict[str, ParticipantView] = {}     # the picture each dropped client holds
    past: list = []                             # what the hub keeps for resumes
    for at, seq, aud, ev in history:
        person = getattr(ev, "person", None)
        if isinstance(ev, GONE) and person in views:
            if resume and isinstance(ev, e.Dropped) and views[person] is not None:
                parked[person] = views[person]
            views[person] = None        # the connection ended first: this is the server noticing
        for pid, v in views.items():
            m = state.members.get(pid)
            if v is not None and m is not None and hears(aud, seq, pid, "participant", m):
                views[pid] = evolve_view(v, sent(ev), at, seq)
        engine.evolve(state, ev, at, seq)
        past.append((at, seq, aud, ev))
        if isinstance(ev, e.LocationCheckedIn) and views.get(person) is not None:
            # the event goes to staff only; the client knows from the ack of its own command
            views[person].checked_in = True
        if isinstance(ev, JOINS) and person in views:
            # the hello's own events are recorded before the connection is registered
            views[person] = join(state, person, parked.pop(person, None), past, stats)
        elif isinstance(ev, e.Admitted) and views.get(person) is not None:
            parked.pop(person, None)
            views[person] = wire(participant_view(state, person))   # newly inside: a fresh picture
        for pid, v in views.items():
            if v is not None:
                yield seq, pid, v, participant_view(state, pid)
        if isinstance(ev, HANG_UP) and person in views:
            if resume and isinstance(ev, e.Left) and views[person] is not None:
                parked[person] = views[person]      # a client may come back later with its old seq
            views[person] = None
        if isinstance(ev, e.SessionClosed):
            views = {p: None for p in views}
            parked.clear()


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """Each scenario played once on a real server; its record's history."""
    cache = {}

    async def play(path):
        if path not in cache:
            db = str(tmp_path_factory.mktemp("fold") / "record.db")
            result = await run_scenario_async(path, db)
            assert result.passed, [str(f) for f in result.failures]
            record = Record(db, readonly=True)
            try:
                final, _, history = fold_until(record, result.room)
            finally:
                record.close()
            cache[path] = result.room, final, history
        return cache[path]
    return play


@pytest.mark.parametrize("resume", [False, True], ids=["welcomed", "resumed"])
@pytest.mark.parametrize("path", SCENARIOS, ids=[os.path.basename(p)[:-5] for p in SCENARIOS])
async def test_folding_each_participants_stream_gives_the_servers_view(path, resume, played):
    room, final, history = await played(path)
    participants = [m.id for m in final.members.values() if m.role == "participant"]
    assert participants and history
    compared, stats = 0, {}
    for seq, pid, mine, theirs in streams(history, room, participants, resume, stats):
        # the server's view says the room's seq; a participant's, the last event they received
        assert mine.seq <= theirs.seq
        mine_d, theirs_d = msgspec.to_builtins(mine), msgspec.to_builtins(theirs)
        mine_d.pop("seq"), theirs_d.pop("seq")
        if mine_d != theirs_d:
            diff = {k: (mine_d[k], theirs_d[k]) for k in theirs_d if mine_d.get(k) != theirs_d[k]}
            raise AssertionError(f"{os.path.basename(path)}: {pid}'s fold differs at seq {seq}: {diff}")
        compared += 1
    assert compared > len(history)      # every participant was followed through most of it
    if resume and any(isinstance(ev, e.Returned) for _, _, _, ev in history):
        assert stats.get("resumed"), "a return that was not followed as a resume"


def test_a_latecomer_gets_no_broadcast_sent_before_they_were_in_a_room():
    """Broadcasts go to the round's rooms (`b:<round>:*`): someone admitted while the
    rooms are open is in the main room and hears none, and once moved into a room
    hears only the later ones; a fresh view says the same as their stream. What a
    room said stays with those who were in it, after the close too."""
    from protocol.commands import RosterEntry
    people = ["p1", "p2", "p3"]
    story = [
        ("staff", e.RoomConfigured(title="t", roster=[RosterEntry(id=p, name=p.upper()) for p in people])),
        ("all", e.SessionOpened()),
        *[x for p in ("p1", "p2") for x in ((f"p:{p}", e.ParticipantWaiting(person=p, name=p.upper())),
                                           ("all", e.Admitted(person=p, name=p.upper())))],
        ("staff", e.BreakoutsPlanned(rooms=[["p1"], ["p2"]])),
        ("all", e.BreakoutsOpened(rooms=[["p1"], ["p2"]], ends_at=1e12, round=1)),
        ("b:1:*", e.BreakoutsBroadcast(text="before", by="f1", round=1)),
        ("b:1:1", e.ChatPosted(by="p1", name="P1", to="all", text="room one", room=1, round=1)),
        ("p:p3", e.ParticipantWaiting(person="p3", name="P3")),
        ("all", e.Admitted(person="p3", name="P3")),
        ("all", e.BreakoutMoved(person="p3", room=1)),
        ("b:1:*", e.BreakoutsBroadcast(text="after", by="f1", round=1)),
        ("all", e.BreakoutsClosed()),
    ]
    history = [(1000.0 + i, i, aud, ev) for i, (aud, ev) in enumerate(story, start=1)]
    seen: dict[tuple[int, str], ParticipantView] = {}
    for seq, pid, mine, theirs in streams(history, "r", people, resume=False):
        assert msgspec.to_builtins(mine) | {"seq": 0} == msgspec.to_builtins(theirs) | {"seq": 0}, (seq, pid)
        seen[seq, pid] = theirs
    told = lambda seq, pid: [b.text for b in seen[seq, pid].broadcasts]  # noqa: E731
    said = lambda seq, pid: [c.text for c in seen[seq, pid].chat]        # noqa: E731
    assert told(12, "p3") == [] and told(12, "p1") == ["before"]    # admitted: in the main room
    assert told(13, "p3") == []                                     # moved in: still not the earlier one
    assert told(14, "p3") == ["after"] and told(14, "p2") == ["before", "after"]
    assert said(13, "p3") == [] and said(15, "p1") == ["room one"] and said(15, "p2") == said(15, "p3") == []
