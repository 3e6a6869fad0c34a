"""Drawing the main screen from the mirror: one redraw for a burst of events, the countdowns'
clock, and word to any dialog open over the room that the room changed.

Panels are given `(state, now)` here and read nothing else; dialogs get a `RoomChanged`
message, so a dialog that shows the room (attendance, a person's card, breakouts) keeps up
without the app knowing which dialogs care.
"""
from __future__ import annotations

from textual.css.query import NoMatches
from textual.message import Message

from facilitator.components.eventlog import EventLog
from facilitator.components.feed import Feed
from facilitator.components.header import SessionClock, SessionHeader
from facilitator.components.poll import PollPanel
from facilitator.components.queue import SpeakerLine, SpeakingQueue
from facilitator.components.roster import Roster
from facilitator.components.timers import TimersPanel
from facilitator.components.waiting import WaitingRoom
from facilitator.mirror import waiting
from protocol.state import RoomState


class RoomChanged(Message):
    """Posted to each dialog over the main screen after the panels drew a new state."""

    bubble = False      # for the dialog itself: the app sent it

    def __init__(self, state: RoomState, now: float, you: str | None) -> None:
        super().__init__()
        self.state, self.now, self.you = state, now, you


class Drawing:
    _pending = False
    _ticks = 0

    def start_clock(self) -> None:
        """Countdowns are computed from deadlines in the state; nothing is sent per second."""
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        s, now = self.room, self.now()
        self._ticks += 1
        try:
            for panel in (self.query_one(SessionClock), self.query_one(SpeakerLine), self.query_one(TimersPanel)):
                panel.show(s, now)
            if self._ticks % 2 == 0:
                self.query_one(Roster).tick(s, now)
        except NoMatches:       # starting or shutting down
            return

    def _schedule(self) -> None:
        """Coalesces bursts: one redraw for however many events arrived meanwhile.

        The redraw runs on the next turn of the loop, after every frame already
        read; a redraw costs a millisecond or two, and Textual itself paints the
        terminal at most 60 times a second, so no further throttle is needed.
        """
        if self._pending:
            return
        self._pending = True
        self.call_later(self._draw)

    def _draw(self) -> None:
        self._pending = False
        if not self.is_mounted or self.room is None:
            return
        if not self.query(SessionHeader):
            return
        try:
            self._draw_panels()
        except NoMatches:
            # a panel's parts are not mounted yet, or already gone while the app
            # shuts down: the next event draws again
            self._pending = False

    def _draw_panels(self) -> None:
        fresh, s, now = self._fresh, self.room, self.now()
        if fresh:
            self.query_one(EventLog).restart(s, self.mirror.log)
        self.query_one(SessionHeader).show(s, now, self.me_label())
        self.query_one(Roster).request(s, now)
        self.query_one(WaitingRoom).show(s)
        self.query_one(SpeakingQueue).show(s, now)
        self.query_one(PollPanel).show(s)
        self.query_one(TimersPanel).show(s, now)
        self.query_one(Feed).show(s, fresh=fresh)
        self.query_one("#waiting").display = bool(waiting(s)) or s.phase == "open"
        for screen in self.screen_stack[1:]:
            screen.post_message(RoomChanged(s, now, self.mirror.you_id))
        self._fresh = False       # only once every panel has drawn the fresh picture
        self.drawn_seq = s.seq
