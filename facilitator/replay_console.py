"""The console over a recorded session: the same panels, a timeline, no actions.

Seeking folds the recorded frames with the server's own `evolve` (facilitator/replay.py), so
the room at 00:42 is drawn by the same panels from the same kind of state as a live room.
"""
from __future__ import annotations

from textual.screen import Screen

from facilitator.actions import REPLAY
from facilitator.app import ConsoleApp
from facilitator.components.eventlog import EventLog
from facilitator.components.timeline import Timeline
from facilitator.components.timers import TimersPanel
from facilitator.console_keys import bindings
from server.wording import event_line
from facilitator.screens.prompt import PromptScreen

# a jump longer than this redraws the log from the new place instead of adding each line
LOG_KEPT = 200


def session_seconds(text: str) -> int | None:
    """'m:ss' or 'h:mm:ss' (or plain seconds) into the session; None if unreadable."""
    try:
        nums = [int(p) for p in text.strip().split(":")]
    except ValueError:
        return None
    return sum(v * 60 ** i for i, v in enumerate(reversed(nums)))


class ReplayApp(ConsoleApp):
    # arrows and Home/End would otherwise move the roster's cursor instead of the timeline
    BINDINGS = bindings(REPLAY, priority=("left", "right", "left_square_bracket", "right_square_bracket",
                                          "home", "end"))

    def compose_timeline(self):
        yield Timeline(id="timeline")

    def start(self) -> None:
        self.sub_title = "replay"
        self._seek(self.replay.count)

    def _seek(self, index: int) -> None:
        r = self.replay
        before = r.index
        state = r.seek(index)
        self.mirror.state = state
        log_ = self.query_one(EventLog)
        if index < before or index - before > LOG_KEPT:
            log_.clear()
            for f in r.frames[max(0, r.index - LOG_KEPT):r.index]:
                log_.add(state, f)
            self._fresh = True
        else:
            for f in r.frames[before:r.index]:
                log_.add(state, f)
        what = event_line(state, r.frames[r.index - 1].ev) if r.index else "before the first event"
        self.query_one(Timeline).show(r.index, r.count, r.at, r.start, what)
        self._draw()
        now = self.now()
        for w in (self.query_one(TimersPanel), self.query_one("#clock")):
            w.show(state, now)

    def action_step(self, n: int) -> None:
        if not isinstance(self.screen, Screen) or len(self.screen_stack) > 1:
            return
        self._seek(self.replay.index + n)

    def action_jump_minute(self, n: int) -> None:
        r = self.replay
        target = (r.at or 0.0) + 60 * n
        # jumping back lands on the last event before the instant, forward on the first after
        self._seek(r.index_at(target) if n > 0 else max(0, r.index_at(target)))

    def action_jump_edge(self, end: int) -> None:
        self._seek(self.replay.count if end else 0)

    def action_jump_time(self) -> None:
        def done(text: str | None) -> None:
            secs = session_seconds(text) if text else None
            if secs is None:
                if text:
                    self.notify("Give a time into the session as m:ss or h:mm:ss", severity="error")
                return
            self._seek(self.replay.index_at((self.replay.start or 0.0) + secs))
        self.push_screen(PromptScreen("Go to time", "Time into the session (m:ss or h:mm:ss)", "0:00"), done)
