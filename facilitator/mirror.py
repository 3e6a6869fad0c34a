"""The console's copy of the room: the welcome's snapshot with every event folded in.

The fold is the server's own `evolve`, so what the console shows cannot drift
from what the server decided. Everything else here only reads the state:
small questions the panels ask (who is speaking, how long, whose share).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from protocol.frames import EventFrame, Welcome
from protocol.roles import LEADS, STAFF_ROLES  # noqa: F401 - LEADS: the app reads it from here
from protocol.state import Member, Poll, RoomState
from protocol.timefmt import hms
from server.engine import evolve
from server.engine.admission import attended_seconds
from server.attendance import late_minutes  # noqa: F401 - the panels read it from here
from server.engine.polls import tally
from server.engine.speaking import talk_seconds



@dataclass
class RoomMirror:
    state: RoomState | None = None
    you_id: str = ""
    you_name: str = ""
    role: str = "observer"
    gaps: int = 0                      # seq gaps seen; each one forces a fresh snapshot
    snapshots: int = 0                 # welcomes that brought a whole state
    resumes: int = 0                   # welcomes that continued where we were
    log: list[EventFrame] = field(default_factory=list)   # the frames folded, newest last
    log_kept: int = 500

    @property
    def seq(self) -> int:
        return self.state.seq if self.state is not None else 0

    def welcome(self, w: Welcome) -> bool:
        """Takes a welcome; True when it replaced the whole state (not a resume)."""
        self.you_id, self.you_name, self.role = w.you.id, w.you.name, w.you.role
        if w.resumed and self.state is not None:
            self.resumes += 1
            return False
        if isinstance(w.state, RoomState):
            self.state = w.state
            self.log.clear()
            self.snapshots += 1
            return True
        return False

    def fold(self, f: EventFrame) -> bool:
        """Folds one event frame; False for a frame already folded (a resume overlap)."""
        s = self.state
        if s is None or f.seq <= s.seq:
            return False
        if f.seq != s.seq + 1:
            # staff receive every event, so a hole means we missed something; the
            # link reconnects without resume and the next welcome repairs it
            self.gaps += 1
        evolve(s, f.ev, f.at, f.seq)
        self.log.append(f)
        if len(self.log) > self.log_kept * 2:
            del self.log[: len(self.log) - self.log_kept]
        return True


# --- questions the panels ask of a state --------------------------------------------

def participants(s: RoomState) -> list[Member]:
    """Everyone the roster should list: expected or having knocked, present first."""
    rank = {"present": 0, "dropped": 1, "waiting": 2, "left": 3, "absent": 4, "denied": 5, "removed": 6}
    ms = [m for m in s.members.values() if m.role == "participant"]
    ms.sort(key=lambda m: (rank.get(m.status, 9), m.order or 999, m.name.lower()))
    return ms


def staff(s: RoomState) -> list[Member]:
    return [m for m in s.members.values() if m.role in STAFF_ROLES]


def present(s: RoomState) -> list[Member]:
    return [m for m in s.members.values() if m.role == "participant" and m.status == "present"]


def waiting(s: RoomState) -> list[Member]:
    return [m for m in s.members.values() if m.role == "participant" and m.status == "waiting"]


def name_of(s: RoomState, pid: str | None) -> str:
    if pid is None:
        return ""
    m = s.members.get(pid)
    return m.name if m is not None and m.name else pid


def talk_shares(s: RoomState, now: float) -> dict[str, tuple[float, float]]:
    """Per participant: (seconds spoken, share of all participant talk, 0..1)."""
    secs = {m.id: talk_seconds(s, m.id, now) for m in s.members.values() if m.role == "participant"}
    total = sum(secs.values())
    return {pid: (t, t / total if total > 0 else 0.0) for pid, t in secs.items()}


def voice_shares(s: RoomState, now: float) -> dict[str, tuple[float, float]]:
    """Per participant: (seconds of speech the media server measured, share of all of it).

    Turns say who had the floor; this says who actually spoke, also between turns
    and in breakouts. Only staff receive `voice_talking`, so only their views have it."""
    secs = {m.id: m.voice_talk + (max(0.0, now - m.talking_since) if m.talking_since is not None else 0.0)
            for m in s.members.values() if m.role == "participant"}
    total = sum(secs.values())
    return {pid: (t, t / total if total > 0 else 0.0) for pid, t in secs.items()}


def active_poll(s: RoomState) -> Poll | None:
    """The poll worth showing: an open one, else the newest."""
    polls = list(s.polls.values())
    for p in reversed(polls):
        if p.state == "open":
            return p
    return polls[-1] if polls else None


def poll_counts(p: Poll) -> tuple[list[tuple[str, int]], int]:
    """(label, count) for every possible answer, in display order, and the voters."""
    counts, total = tally(p)
    if p.kind == "scale" and p.min is not None and p.max is not None:
        keys = [str(v) for v in range(p.min, p.max + 1)]
    elif p.kind in ("phq2", "gad2"):
        keys = [str(v) for v in range(0, 7)]        # totals of two items scored 0..3
    else:
        keys = list(p.options)
    rows = [(k, counts.get(k, 0)) for k in keys]
    rows += [(k, n) for k, n in counts.items() if k not in keys]
    return rows, total


def session_clock(s: RoomState, now: float) -> float | None:
    if s.opened_at is None:
        return None
    end = s.closed_at if s.closed_at is not None else now
    return max(0.0, end - s.opened_at)


def agenda_left(s: RoomState, now: float) -> tuple[str, float] | None:
    """The current agenda segment and its seconds left (negative once over time)."""
    if s.agenda_index is None or s.agenda_index >= len(s.agenda) or s.agenda_started is None:
        return None
    item = s.agenda[s.agenda_index]
    end = s.closed_at if s.closed_at is not None else now
    return item.title, s.agenda_started + item.minutes * 60 - end


def attended(m: Member, now: float) -> float:
    return attended_seconds(m, now)


def open_help(s: RoomState) -> list:
    return [h for h in s.help.values() if h.acknowledged_by is None]


def plan_violations(s: RoomState) -> list[str]:
    """Rules the current breakout draft breaks, in the facilitator's words: the
    engine says which (moves by hand are not refused), the console names them."""
    from server.engine.breakouts import broken_rules
    words = {"together": "should be together", "apart": "must be apart"}
    return [f"{name_of(s, a)} and {name_of(s, b)} {words[kind]}" for kind, a, b in broken_rules(s)]


def fmt_secs(t: float | None) -> str:
    """m:ss, or h:mm:ss past an hour; negative values keep their sign."""
    if t is None:
        return "--:--"
    return ("-" if t < 0 else "") + hms(int(abs(t)))
