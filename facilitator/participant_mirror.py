"""A participant's picture of the room, for the terminal participant client.

It starts from the welcome's `ParticipantView` and folds in every event the
server sends this participant, in seq order, just as the participant page
(server/web/static/js/mirror.js) does. Both follow the server's
`participant_view()`; the tests compare all three after a session.

The engine's own fold cannot serve here: it needs the whole room (waiting
room, talk times, other people's answers) that a participant never receives.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from protocol import events as e
from protocol.frames import EventFrame, Welcome
from protocol.state import ChatLine, Help, ParticipantView, PersonView, PollView, Timer
from server.engine.timers import EVOLVERS as _SHARED_FOLD

CHAT_KEPT = 200


@dataclass
class Broadcast:
    text: str
    at: float
    seq: int


@dataclass
class Mirror:
    view: ParticipantView
    you_name: str = ""
    names: dict[str, str] = field(default_factory=dict)
    queue_mode: str = "fifo"
    rooms: list[list[str]] | None = None      # known only from an opening seen live
    broadcasts: list[Broadcast] = field(default_factory=list)
    voted: dict[str, list[str]] = field(default_factory=dict)   # anonymous ballots sent from here

    @classmethod
    def from_welcome(cls, w: Welcome, previous: "Mirror | None" = None) -> "Mirror":
        view = w.state
        assert isinstance(view, ParticipantView)
        m = cls(view=view, you_name=w.you.name)
        m.names = {p.id: p.name for p in view.present}
        if w.you.name:
            m.names[view.me] = w.you.name
        if previous is not None:
            # what only this client knew survives a fresh picture of the room
            m.queue_mode = previous.queue_mode
            m.voted = dict(previous.voted)
            if previous.view.breakouts == "open" and view.breakouts == "open":
                m.broadcasts = list(previous.broadcasts)
        return m

    # --- reading --------------------------------------------------------------------

    @property
    def me(self) -> str:
        return self.view.me

    def name(self, pid: str) -> str:
        if pid == self.me:
            return "You"
        return self.names.get(pid) or "A participant"

    def poll(self, pid: str) -> PollView | None:
        return next((p for p in self.view.polls if p.id == pid), None)

    def mine(self, p: PollView) -> list[str]:
        return list(p.mine) or self.voted.get(p.id, [])

    # --- folding ----------------------------------------------------------------------

    def apply(self, f: EventFrame) -> bool:
        """Folds one event; False for a kind this client does not know (skipped)."""
        self.view.seq = f.seq
        shared = _SHARED_FOLD.get(type(f.ev))
        if shared is not None:
            # timers and the agenda read the same in a participant's view as in the
            # room: the engine's own fold runs on the view's fields
            try:
                shared(self.view, f.ev, f.at)
            except KeyError:
                pass            # a timer started before this client could see the room
            return True
        fn = getattr(self, "_" + type(f.ev).__struct_config__.tag, None)
        if fn is None:
            return False
        fn(f.ev, f.at, f.seq)
        return True

    # voice: a held mute on me, and the held floor
    def _mic_muted(self, ev, at, seq) -> None:
        if ev.person == self.me:
            self.view.muted = True

    def _mic_unmuted(self, ev, at, seq) -> None:
        if ev.person == self.me:
            self.view.muted = False

    def _floor_held(self, ev, at, seq) -> None:
        self.view.floor_held = ev.on

    def _drop(self, pid: str) -> None:
        self.view.present = [p for p in self.view.present if p.id != pid]

    def _leaves(self, pid: str) -> None:
        v = self.view
        self._drop(pid)
        v.queue = [q for q in v.queue if q != pid]
        if v.go_around is not None:
            v.go_around = [q for q in v.go_around if q != pid]

    def _arrive(self, pid: str, name: str) -> None:
        if name:
            self.names[pid] = name
        if pid == self.me:
            self.view.status = "present"
        if not any(p.id == pid for p in self.view.present):
            self.view.present.append(PersonView(id=pid, name=name or self.names.get(pid, ""), role="participant"))

    def _session_opened(self, ev, at, seq): self.view.phase = "open"

    def _session_closed(self, ev, at, seq):
        self.view.phase = "closed"
        self.view.queue = []
        if self.view.status == "present":
            self.view.status = "left"

    def _participant_waiting(self, ev, at, seq):
        if ev.person == self.me:
            self.view.status = "waiting"

    def _waiting_left(self, ev, at, seq):
        if ev.person == self.me and self.view.status == "waiting":
            self.view.status = "absent"

    def _agreement_accepted(self, ev, at, seq):
        if ev.person == self.me:
            self.view.agreed = True

    def _location_checked_in(self, ev, at, seq):
        if ev.person == self.me:
            self.view.checked_in = True

    def _admitted(self, ev: e.Admitted, at, seq): self._arrive(ev.person, ev.name)
    def _returned(self, ev: e.Returned, at, seq): self._arrive(ev.person, ev.name)

    def _denied(self, ev, at, seq):
        if ev.person == self.me:
            self.view.status = "denied"

    def _removed(self, ev, at, seq):
        self._leaves(ev.person)
        if ev.person == self.me:
            self.view.status = "removed"

    def _left(self, ev, at, seq):
        self._leaves(ev.person)
        if ev.person == self.me:
            self.view.status = "left"

    def _dropped(self, ev, at, seq):
        self._drop(ev.person)
        if ev.person == self.me:
            self.view.status = "dropped"

    def _staff_entered(self, ev, at, seq): self.names[ev.person] = ev.name

    def _hand_raised(self, ev, at, seq):
        # the event says where the hand went (by talk time in "fair" mode)
        if ev.person not in self.view.queue:
            q = self.view.queue
            pos = ev.position - 1 if ev.position > 0 else len(q)
            q.insert(min(pos, len(q)), ev.person)

    def _hand_lowered(self, ev, at, seq):
        self.view.queue = [q for q in self.view.queue if q != ev.person]

    def _turn_started(self, ev: e.TurnStarted, at, seq):
        v = self.view
        v.speaker, v.turn_ends = ev.person, ev.ends_at
        v.queue = [q for q in v.queue if q != ev.person]
        if v.go_around and ev.person in v.go_around:
            v.go_around = v.go_around[v.go_around.index(ev.person) + 1:]

    def _turn_ended(self, ev, at, seq):
        self.view.speaker = None
        self.view.turn_ends = None

    def _queue_moved(self, ev: e.QueueMoved, at, seq):
        q = [x for x in self.view.queue if x != ev.person]
        q.insert(ev.position - 1, ev.person)
        self.view.queue = q

    def _queue_mode_set(self, ev, at, seq):
        self.queue_mode = ev.mode
        if ev.queue is not None:
            self.view.queue = list(ev.queue)
    def _go_around_started(self, ev, at, seq): self.view.go_around = list(ev.order)
    def _go_around_ended(self, ev, at, seq): self.view.go_around = None

    def _breakouts_opened(self, ev: e.BreakoutsOpened, at, seq):
        v = self.view
        v.breakouts, v.breakouts_ends = "open", ev.ends_at
        self.rooms = [list(r) for r in ev.rooms]
        v.my_room = next((i for i, r in enumerate(self.rooms, 1) if self.me in r), None)
        v.room_members = list(self.rooms[v.my_room - 1]) if v.my_room else []
        self.broadcasts = []

    def _breakout_moved(self, ev: e.BreakoutMoved, at, seq):
        v = self.view
        if self.rooms is not None:
            for r in self.rooms:
                if ev.person in r:
                    r.remove(ev.person)
            while len(self.rooms) < ev.room:
                self.rooms.append([])
            self.rooms[ev.room - 1].append(ev.person)
        if ev.person == self.me:
            v.my_room = ev.room
            v.room_members = list(self.rooms[ev.room - 1]) if self.rooms else [self.me]
        elif v.my_room == ev.room:
            if ev.person not in v.room_members:
                v.room_members.append(ev.person)
        else:
            v.room_members = [q for q in v.room_members if q != ev.person]

    def _breakouts_warning(self, ev, at, seq): self.view.breakouts_ends = ev.ends_at

    def _breakouts_broadcast(self, ev, at, seq):
        self.broadcasts.append(Broadcast(ev.text, at, seq))

    def _breakouts_closed(self, ev, at, seq):
        v = self.view
        v.breakouts, v.my_room, v.room_members, v.breakouts_ends = "none", None, [], None
        self.rooms = None

    def _help_requested(self, ev: e.HelpRequested, at, seq):
        if ev.person == self.me and not any(h.help_id == ev.help_id for h in self.view.my_help):
            self.view.my_help.append(Help(help_id=ev.help_id, person=ev.person, room=ev.room,
                                          text=ev.text, at=at))

    def _help_acknowledged(self, ev, at, seq):
        for h in self.view.my_help:
            if h.help_id == ev.help_id:
                h.acknowledged_by = ev.by

    def _poll_opened(self, ev: e.PollOpened, at, seq):
        p = self.poll(ev.id)
        if p is None:
            p = PollView(id=ev.id, question=ev.question, kind=ev.kind, options=list(ev.options),
                         min=ev.min, max=ev.max, anonymous=ev.anonymous)
            self.view.polls.append(p)
        p.state = "open"

    def _vote_cast(self, ev: e.VoteCast, at, seq):
        p = self.poll(ev.id)
        if p is not None and ev.person == self.me:
            p.mine = list(ev.keys)

    def _poll_closed(self, ev, at, seq):
        p = self.poll(ev.id)
        if p is not None:
            p.state = "closed"

    def _poll_shared(self, ev: e.PollShared, at, seq):
        p = self.poll(ev.id)
        if p is not None:
            p.results, p.total = dict(ev.counts), ev.total

    def _chat_posted(self, ev: e.ChatPosted, at, seq):
        self.view.chat.append(ChatLine(by=ev.by, name=ev.name, to=ev.to, text=ev.text, room=ev.room, at=at))
        if len(self.view.chat) > CHAT_KEPT:
            del self.view.chat[: len(self.view.chat) - CHAT_KEPT]
        if ev.name:
            self.names[ev.by] = ev.name


def timer_left(t: Timer, now: float) -> float:
    if t.state == "running" and t.ends_at is not None:
        return min(t.seconds, max(0.0, t.ends_at - now))
    return t.remaining


def clock(seconds: float) -> str:
    """m:ss (h:mm:ss past an hour), rounded up so 0:00 shows only when time is up."""
    import math
    s = max(0, math.ceil(seconds - 0.25))
    h, rest = divmod(s, 3600)
    m, r = divmod(rest, 60)
    return f"{h}:{m:02d}:{r:02d}" if h else f"{m}:{r:02d}"


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
