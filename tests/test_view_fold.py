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


def streams(history, room: str, participants: list[str]):
    """Yields (seq, person, folded view, the server's view) at every event, for everyone connected."""
    state = engine.new_room(room)
    views: dict[str, ParticipantView | None] = {p: None for p in participants}
    for at, seq, aud, ev in history:
        person = getattr(ev, "person", None)
        if isinstance(ev, GONE) and person in views:
            views[person] = None        # the connection ended first: this is the server noticing
        for pid, v in views.items():
            if v is None:
                continue
            m = state.members.get(pid)
            if receives(aud, pid, "participant", m.status if m else "absent", m.breakout if m else None):
                views[pid] = evolve_view(v, EVENT.decode(WIRE.encode(for_participants(ev))), at, seq)
        engine.evolve(state, ev, at, seq)
        if isinstance(ev, e.LocationCheckedIn) and views.get(person) is not None:
            # the event goes to staff only; the client knows from the ack of its own command
            views[person].checked_in = True
        if isinstance(ev, WELCOMES) and person in views:
            views[person] = wire(participant_view(state, person))
        for pid, v in views.items():
            if v is not None:
                yield seq, pid, v, participant_view(state, pid)
        if isinstance(ev, HANG_UP) and person in views:
            views[person] = None
        if isinstance(ev, e.SessionClosed):
            views = {p: None for p in views}


@pytest.mark.parametrize("path", SCENARIOS, ids=[os.path.basename(p)[:-5] for p in SCENARIOS])
async def test_folding_each_participants_stream_gives_the_servers_view(path, tmp_path):
    db = str(tmp_path / "record.db")
    result = await run_scenario_async(path, db)
    assert result.passed, [str(f) for f in result.failures]
    record = Record(db, readonly=True)
    try:
        final, _, history = fold_until(record, result.room)
    finally:
        record.close()
    participants = [m.id for m in final.members.values() if m.role == "participant"]
    assert participants and history
    compared = 0
    for seq, pid, mine, theirs in streams(history, result.room, participants):
        # the server's view says the room's seq; a participant's, the last event they received
        assert mine.seq <= theirs.seq
        mine_d, theirs_d = msgspec.to_builtins(mine), msgspec.to_builtins(theirs)
        mine_d.pop("seq"), theirs_d.pop("seq")
        if mine_d != theirs_d:
            diff = {k: (mine_d[k], theirs_d[k]) for k in theirs_d if mine_d.get(k) != theirs_d[k]}
            raise AssertionError(f"{os.path.basename(path)}: {pid}'s fold differs at seq {seq}: {diff}")
        compared += 1
    assert compared > len(history)      # every participant was followed through most of it
