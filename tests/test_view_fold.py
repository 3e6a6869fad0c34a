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
welcome. Every view and event crosses the wire (encoded and decoded) as it would.

The page's own fold (server/web/static/js/mirror.js) is held to the same views: the JSON
frames each participant was sent are folded with it under Node (tests/js/fold_frames.mjs)."""
from __future__ import annotations

import glob
import json
import os
import subprocess

import msgspec
import pytest

from protocol import events as e
from protocol.frames import PROTOCOL_VERSION, EventFrame, Welcome, You, encode
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


class Connection:
    """One participant's connection as the hub serves it: the picture folded from what it
    was sent, and (for the page's fold) the frames themselves, as the page's JSON text
    (encoded when sent: the view folds on in place)."""

    def __init__(self, state, person: str, log: list | None):
        self.state, self.person, self.log = state, person, log
        self.view: ParticipantView | None = None

    def welcome(self) -> None:
        self.view = wire(participant_view(self.state, self.person))
        if self.log is not None:
            self.log.append(encode(self._welcome(resumed=False, state=self.view), binary=False))

    def resumed(self) -> None:
        if self.log is not None:
            self.log.append(encode(self._welcome(resumed=True, state=None), binary=False))

    def event(self, at: float, seq: int, aud: str, ev: e.Event) -> None:
        ev = sent(ev)
        self.view = evolve_view(self.view, ev, at, seq)
        if self.log is not None:
            self.log.append(encode(EventFrame(seq=seq, at=at, aud=aud, ev=ev), binary=False))

    def _welcome(self, resumed: bool, state) -> Welcome:
        m = self.state.members.get(self.person)
        return Welcome(protocol=PROTOCOL_VERSION, room=self.state.room, seq=self.state.seq, resumed=resumed,
                       you=You(id=self.person, name=m.name if m else "", role="participant"),
                       server_time=self.state.at, state=state)


def join(conn: Connection, parked: ParticipantView | None, past: list, stats: dict | None) -> None:
    """The hub's `_join` for a participant whose hello was just recorded: a resume from the
    parked view's seq if it is at or after their latest entry, else a fresh welcome."""
    state, person = conn.state, conn.person
    m = state.members[person]
    since = entered_at(m)
    if parked is None or (since is not None and parked.seq < since):
        if parked is not None and stats is not None:
            stats["afresh"] = stats.get("afresh", 0) + 1
        conn.welcome()
        return
    if stats is not None:
        stats["resumed"] = stats.get("resumed", 0) + 1
    conn.view = parked
    conn.resumed()
    for at, seq, aud, ev in past:
        # judged by who could hear it when it was recorded, on the person as they are now
        if seq > parked.seq and hears(aud, seq, person, "participant", m):
            conn.event(at, seq, aud, ev)


def streams(history, room: str, participants: list[str], resume: bool, stats: dict | None = None,
            logs: dict[str, list] | None = None):
    """Yields (seq, person, folded view, the server's view) at every event, for everyone connected.

    With `resume`, a participant who drops, or leaves and comes back, reconnects with the seq
    of the last event they had, as the clients do; the hub answers as `join` above. With
    `logs`, the frames each participant was sent are appended to `logs[person]`."""
    state = engine.new_room(room)
    conns = {p: Connection(state, p, logs.setdefault(p, []) if logs is not None else None)
             for p in participants}
    parked: dict[str, ParticipantView] = {}     # the picture each dropped client holds
    past: list = []                             # what the hub keeps for resumes
    for at, seq, aud, ev in history:
        person = getattr(ev, "person", None)
        if isinstance(ev, GONE) and person in conns:
            if resume and isinstance(ev, e.Dropped) and conns[person].view is not None:
                parked[person] = conns[person].view
            conns[person].view = None   # the connection ended first: this is the server noticing
        for pid, conn in conns.items():
            m = state.members.get(pid)
            if conn.view is not None and m is not None and hears(aud, seq, pid, "participant", m):
                conn.event(at, seq, aud, ev)
        engine.evolve(state, ev, at, seq)
        past.append((at, seq, aud, ev))
        conn = conns.get(person)
        if isinstance(ev, e.LocationCheckedIn) and conn is not None and conn.view is not None:
            # the event goes to staff only; the client knows from the ack of its own command
            conn.view.checked_in = True
        if isinstance(ev, JOINS) and conn is not None:
            # the hello's own events are recorded before the connection is registered
            join(conn, parked.pop(person, None), past, stats)
        elif isinstance(ev, e.Admitted) and conn is not None and conn.view is not None:
            parked.pop(person, None)
            conn.welcome()              # newly inside: a fresh picture
        for pid, c in conns.items():
            if c.view is not None:
                yield seq, pid, c.view, participant_view(state, pid)
        if isinstance(ev, HANG_UP) and conn is not None:
            if resume and isinstance(ev, e.Left) and conn.view is not None:
                parked[person] = conn.view      # a client may come back later with its old seq
            conn.view = None
        if isinstance(ev, e.SessionClosed):
            for c in conns.values():
                c.view = None
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


# what only the page keeps beside the view: who it is, and the names it has heard; and
# `checked_in`, which the page learns from the ack of its own command, not the stream
PAGE_ONLY = ("you", "names", "checked_in")
MIRROR_JS = os.path.join(os.path.dirname(__file__), "..", "server", "web", "static", "js", "mirror.js")
FOLD_JS = os.path.join(os.path.dirname(__file__), "js", "fold_frames.mjs")


def page_views(history, room: str, participants: list[str], resume: bool):
    """(person, seq, the page's picture, the server's view) at every event, for everyone
    connected: the page's fold (mirror.js, under Node) over the JSON frames they were sent,
    with link.js's rule for repeats; both without `seq` and what only the page keeps."""
    logs: dict[str, list] = {}
    points, theirs = [], []
    for seq, pid, _mine, sv in streams(history, room, participants, resume, logs=logs):
        points.append((pid, len(logs[pid]), seq))
        theirs.append(msgspec.to_builtins(sv))
    frames = {p: [json.loads(f) for f in fs] for p, fs in logs.items()}
    run = subprocess.run(["node", FOLD_JS], capture_output=True, text=True, timeout=120, input=json.dumps(
        {"mirror": MIRROR_JS, "frames": frames, "at": [[pid, n] for pid, n, _ in points]}))
    assert run.returncode == 0, run.stderr
    pages = json.loads(run.stdout)
    assert len(pages) == len(points)
    for (pid, _, seq), page, server in zip(points, pages, theirs):
        assert page is not None, f"{pid} has no picture at seq {seq}"
        for k in ("seq", *PAGE_ONLY):
            page.pop(k, None), server.pop(k, None)
        yield pid, seq, page, server


def same(page: dict, server: dict) -> dict:
    return {k: (page.get(k), server.get(k)) for k in {*page, *server} if page.get(k) != server.get(k)}


needs_node = pytest.mark.usefixtures("needs_node")


@needs_node
@pytest.mark.parametrize("resume", [False, True], ids=["welcomed", "resumed"])
@pytest.mark.parametrize("path", SCENARIOS, ids=[os.path.basename(p)[:-5] for p in SCENARIOS])
async def test_the_pages_fold_of_each_participants_frames_gives_the_servers_view(path, resume, played):
    """The page's JavaScript fold (mirror.js) over the very JSON frames each participant
    is sent gives the server's view too, on the whole view, at every event."""
    room, final, history = await played(path)
    participants = [m.id for m in final.members.values() if m.role == "participant"]
    compared = 0
    for pid, seq, page, server in page_views(history, room, participants, resume):
        if diff := same(page, server):
            raise AssertionError(f"{os.path.basename(path)}: {pid}'s page differs at seq {seq}: {diff}")
        compared += 1
    assert compared > len(history)


def latecomer_story() -> list:
    """A round with a latecomer who calls for help from the door, and an observer who comes
    and goes, as a record's history."""
    from protocol.commands import RosterEntry
    people = ["p1", "p2", "p3"]
    story = [
        ("staff", e.RoomConfigured(title="t", roster=[RosterEntry(id=p, name=p.upper()) for p in people])),
        ("all", e.SessionOpened()),
        *[x for p in ("p1", "p2") for x in ((f"p:{p}", e.ParticipantWaiting(person=p, name=p.upper())),
                                           ("all", e.Admitted(person=p, name=p.upper())))],
        ("staff", e.BreakoutsPlanned(rooms=[["p1"], ["p2"]])),
        ("all", e.BreakoutsOpened(rooms=[["p1"], ["p2"]], ends_at=1e12, round=1)),           # 8
        ("all", e.StaffEntered(person="o1", name="Robin", role="observer")),
        ("b:1:*", e.BreakoutsBroadcast(text="before", by="f1", round=1)),                      # 10
        ("b:1:1", e.ChatPosted(by="p1", name="P1", to="all", text="room one", room=1, round=1)),
        ("p:p3", e.ParticipantWaiting(person="p3", name="P3")),
        ("p:p3", e.HelpRequested(help_id=1, person="p3", room=0, text="at the door")),
        ("p:p3", e.HelpAcknowledged(help_id=1, by="f1")),
        ("all", e.Admitted(person="p3", name="P3")),                                          # 15
        ("all", e.BreakoutMoved(person="p3", room=1)),
        ("b:1:*", e.BreakoutsBroadcast(text="after", by="f1", round=1)),                       # 17
        ("all", e.StaffLeft(person="o1")),
        ("all", e.BreakoutsClosed()),                                                         # 19
    ]
    return [(1000.0 + i, i, aud, ev) for i, (aud, ev) in enumerate(story, start=1)]


def test_a_latecomer_gets_no_broadcast_sent_before_they_were_in_a_room():
    """Broadcasts go to the round's rooms (`b:<round>:*`): someone admitted while the
    rooms are open is in the main room and hears none, and once moved into a room
    hears only the later ones; a fresh view says the same as their stream. What a
    room said stays with those who were in it, after the close too. A call for help
    from the door is the caller's, waiting or admitted."""
    seen: dict[tuple[int, str], ParticipantView] = {}
    for seq, pid, mine, theirs in streams(latecomer_story(), "r", ["p1", "p2", "p3"], resume=False):
        assert msgspec.to_builtins(mine) | {"seq": 0} == msgspec.to_builtins(theirs) | {"seq": 0}, (seq, pid)
        seen[seq, pid] = wire(theirs)      # a copy: the view shares its help entries with the room
    told = lambda seq, pid: [b.text for b in seen[seq, pid].broadcasts]  # noqa: E731
    said = lambda seq, pid: [c.text for c in seen[seq, pid].chat]        # noqa: E731
    staff = lambda seq, pid: [(p.id, p.role) for p in seen[seq, pid].present if p.role != "participant"]  # noqa: E731
    helped = lambda seq: [(h.text, h.acknowledged_by) for h in seen[seq, "p3"].my_help]  # noqa: E731
    assert told(15, "p3") == [] and told(15, "p1") == ["before"]    # admitted: in the main room
    assert told(16, "p3") == []                                     # moved in: still not the earlier one
    assert told(17, "p3") == ["after"] and told(17, "p2") == ["before", "after"]
    assert said(16, "p3") == [] and said(19, "p1") == ["room one"] and said(19, "p2") == said(19, "p3") == []
    assert staff(9, "p1") == staff(15, "p3") == [("o1", "observer")] and staff(18, "p1") == []
    assert seen[13, "p3"].status == "waiting" and helped(13) == [("at the door", None)]
    assert helped(14) == helped(19) == [("at the door", "f1")]


@needs_node
def test_the_pages_fold_follows_a_latecomer_and_staff_who_come_and_go():
    compared = 0
    for pid, seq, page, server in page_views(latecomer_story(), "r", ["p1", "p2", "p3"], resume=False):
        assert not same(page, server), (pid, seq, same(page, server))
        compared += 1
    assert compared > 30
