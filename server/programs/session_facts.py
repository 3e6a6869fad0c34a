"""What one session's history says beyond attendance: check-ins, alerts, notes, flags, agenda, staff.

Read from the events the room's fold was made of (`review.fold_until`'s
history), so a document shows the same answers the facilitators saw.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from protocol import events as e
from protocol.state import RoomState
from server.programs.reports import held
from server.programs.store import zone
from server.review import fold_until

QUESTIONNAIRES = ("phq2", "gad2")


@dataclass
class PollAnswer:
    """One person's latest answer to one poll: a check-in questionnaire (PHQ-2, GAD-2) or any other."""
    poll: str
    kind: str                # phq2 | gad2 | scale | single | multi
    question: str
    at: float
    answers: list[int]       # item scores (phq2, gad2)
    keys: list[str]          # what was chosen (a scale's value, an option)

    @property
    def total(self) -> int | None:
        return sum(self.answers) if self.kind in QUESTIONNAIRES and len(self.answers) == 2 else None


@dataclass
class Segment:
    title: str
    start: float
    end: float | None


@dataclass
class Facts:
    checkins: dict[str, list[PollAnswer]] = field(default_factory=dict)   # person -> latest answer per poll
    alerts: dict[str, list[tuple[float, str, int]]] = field(default_factory=dict)
    notes: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)   # (at, by, text)
    flags: dict[str, list[tuple[float, str, str, str]]] = field(default_factory=dict)  # (at, by, level, reason)
    segments: list[Segment] = field(default_factory=list)


def facts(history, state: RoomState) -> Facts:
    f = Facts()
    polls: dict[str, e.PollCreated] = {}
    for at, _seq, _aud, ev in history:
        if isinstance(ev, e.PollCreated):
            polls[ev.id] = ev
        elif isinstance(ev, e.VoteCast) and ev.id in polls:
            p = polls[ev.id]
            mine = [c for c in f.checkins.setdefault(ev.person, []) if c.poll != ev.id]
            mine.append(PollAnswer(ev.id, p.kind, p.question, at, list(ev.answers), list(ev.keys)))
            f.checkins[ev.person] = mine
        elif isinstance(ev, e.QuestionnaireAlert):
            f.alerts.setdefault(ev.person, []).append((at, ev.kind, ev.total))
        elif isinstance(ev, e.NoteAdded):
            f.notes.setdefault(ev.target, []).append((at, ev.by, ev.text))
        elif isinstance(ev, e.Flagged):
            f.flags.setdefault(ev.target, []).append((at, ev.by, ev.level, ev.reason))
        elif isinstance(ev, e.AgendaAdvanced):
            if f.segments and f.segments[-1].end is None:
                f.segments[-1].end = at
            f.segments.append(Segment(ev.title, at, None))
    if f.segments and f.segments[-1].end is None:
        f.segments[-1].end = state.closed_at
    for person in f.checkins:
        f.checkins[person].sort(key=lambda c: c.at)
    return f


def read_held(record, p, room: str):
    """A held session of program `p`, read once for a document: (its attendance, the room folded to
    its end, the history that fold was made of, the program's zone, the facts). LookupError when the
    room never opened in the record."""
    h = held(record, room, p)
    if h is None:
        raise LookupError(f"room {room!r} has no session that opened in the record")
    state, _now, history = fold_until(record, room)
    return h, state, history, zone(p), facts(history, state)


def peak_present(history, new_room, evolve) -> int:
    """The most participants in the room at once (the figure a payer's cap is about)."""
    s = new_room("peak")
    peak = 0
    for at, seq, _aud, ev in history:
        evolve(s, ev, at, seq)
        n = sum(1 for m in s.members.values() if m.role == "participant" and m.status == "present")
        peak = max(peak, n)
    return peak


def staff_of(state: RoomState) -> list:
    order = {"facilitator": 0, "cofacilitator": 1, "observer": 2}
    return sorted((m for m in state.members.values() if m.role in order),
                  key=lambda m: (order[m.role], m.name))
