"""A participant's picture of the room, for the terminal participant client.

The picture itself is the engine's: the welcome's `ParticipantView`, kept up to
date by `server.engine.view_fold.evolve_view` with every event the server sends
this participant, in seq order (tests/test_view_fold.py proves that fold equals
the server's `participant_view` over every scenario). What this module adds is
only what the client itself knows: display names it has heard (to name a raised
hand whose owner dropped), and its own anonymous ballots, which the server
records without any link to the voter and so cannot send back.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from protocol import events as e
from protocol.frames import EventFrame, Welcome
from protocol.state import BroadcastLine, ParticipantView, PollView
from protocol.timefmt import hms
from server.engine.timers import remaining as timer_left  # noqa: F401 - the participant app reads it from here
from server.engine.view_fold import evolve_view


@dataclass
class ViewMirror:
    view: ParticipantView
    names: dict[str, str] = field(default_factory=dict)
    voted: dict[str, list[str]] = field(default_factory=dict)   # anonymous ballots sent from here

    @classmethod
    def from_welcome(cls, w: Welcome, previous: "ViewMirror | None" = None) -> "ViewMirror":
        view = w.state
        assert isinstance(view, ParticipantView)
        m = cls(view=view)
        if previous is not None:
            m.names, m.voted = dict(previous.names), dict(previous.voted)
        m.names.update({p.id: p.name for p in view.present})
        if w.you.name:
            m.names[view.me] = w.you.name
        return m

    # --- reading --------------------------------------------------------------------

    @property
    def me(self) -> str:
        return self.view.me

    @property
    def broadcasts(self) -> list[BroadcastLine]:
        return self.view.broadcasts

    def name(self, pid: str) -> str:
        if pid == self.me:
            return "You"
        return self.names.get(pid) or "A participant"

    def poll(self, pid: str) -> PollView | None:
        return next((p for p in self.view.polls if p.id == pid), None)

    def mine(self, p: PollView) -> list[str]:
        return list(p.mine) or self.voted.get(p.id, [])

    # --- folding ----------------------------------------------------------------------

    def apply(self, f: EventFrame) -> None:
        ev = f.ev
        name = getattr(ev, "name", "")
        if name and isinstance(ev, (e.Admitted, e.Returned, e.StaffEntered, e.ParticipantWaiting)):
            self.names[ev.person] = name
        elif name and isinstance(ev, e.ChatPosted):
            self.names[ev.by] = name
        self.view = evolve_view(self.view, ev, f.at, f.seq)


def clock(seconds: float) -> str:
    """m:ss (h:mm:ss past an hour), rounded up so 0:00 shows only when time is up."""
    import math
    return hms(max(0, math.ceil(seconds - 0.25)))


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
