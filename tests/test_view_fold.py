"""One participant view: folding what a participant receives, from their welcome, gives
exactly `participant_view` of the server's room at that seq. For every scenario and
every participant, at every event (issue 13, section 1).

Each scenario is played on a real server (the runner), and its record read back. The
stream each participant gets is rebuilt the way the hub sends it: an event reaches them
when `receives` says so, judged on the room as it was before the event; a fresh welcome
follows their knock, their admission and their return; a drop, a leaving, a removal, a
denial and the close end their connection, after it; a drop before it. Every view crosses the wire (encoded and
decoded) as it would."""
from __future__ import annotations

import glob
import os

import msgspec
import pytest

from protocol import events as e
from protocol.frames import Welcome
from protocol.state import ParticipantView
from server import engine
from server.engine.view_fold import evolve_view
from server.engine.views import for_participants, participant_view, receives
from server.record.sqlite import Record
from server.review import fold_until
from server.scenarios.runner import run_scenario_async

SCENARIOS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "scenarios", "*.toml")))
WIRE = msgspec.msgpack.Encoder()
VIEW = msgspec.msgpack.Decoder(ParticipantView)
EVENT = msgspec.msgpack.Decoder(e.AnyEvent)

# what opens a fresh welcome for the person named in the event, and what ends their connection
WELCOMES = (e.ParticipantWaiting, e.Admitted, e.Returned)
HANG_UP = (e.Left, e.Removed, e.Denied)        # received, then the server closes the connection
GONE = (e.Dropped, e.WaitingLeft)               # recorded after the connection has gone


def wire(view: ParticipantView) -> ParticipantView:
    return VIEW.decode(WIRE.encode(view))


def streams(history, room: str, participants: list[str], resume: bool, stats: dict | None = None):
    """Yields (seq, person, folded view, the server's view) at every event, for everyone connected.

    With `resume`, a participant who drops and returns resumes from their last seq, as the
    clients do: the hub then sends no welcome but every event after that seq, their own
    `dropped` and `returned` among them, judged on the room as it is at the resume."""
    state = engine.new_room(room)
    views: dict[str, ParticipantView | None] = {p: None for p in participants}
    parked: dict[str, ParticipantView] = {}
    missed: dict[str, list] = {}
    for at, seq, aud, ev in history:
        person = getattr(ev, "person", None)
        if isinstance(ev, GONE) and person in views:
            if resume and isinstance(ev, e.Dropped) and views[person] is not None:
                parked[person], missed[person] = views[person], []
            views[person] = None        # the connection ended first: this is the server noticing
        for pid, v in views.items():
            if v is None:
                continue
            m = state.members.get(pid)
            if receives(aud, pid, "participant", m.status if m else "absent", m.breakout if m else None):
                views[pid] = evolve_view(v, EVENT.decode(WIRE.encode(for_participants(ev))), at, seq)
        engine.evolve(state, ev, at, seq)
        for pid in missed:
            missed[pid].append((at, seq, aud, ev))
        if isinstance(ev, e.LocationCheckedIn) and views.get(person) is not None:
            # the event goes to staff only; the client knows from the ack of its own command
            views[person].checked_in = True
        if isinstance(ev, e.Returned) and person in parked:
            v, m = parked.pop(person), state.members[person]
            if stats is not None:
                stats["resumed"] = stats.get("resumed", 0) + 1
            for a, s, au, x in missed.pop(person):
                if receives(au, person, "participant", m.status, m.breakout):
                    v = evolve_view(v, EVENT.decode(WIRE.encode(for_participants(x))), a, s)
            views[person] = v
        elif isinstance(ev, WELCOMES) and person in views:
            parked.pop(person, None), missed.pop(person, None)
            views[person] = wire(participant_view(state, person))
        for pid, v in views.items():
            if v is not None:
                yield seq, pid, v, participant_view(state, pid)
        if isinstance(ev, HANG_UP) and person in views:
            views[person] = None
        if isinstance(ev, e.SessionClosed):
            views = {p: None for p in views}
            parked.clear(), missed.clear()


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
