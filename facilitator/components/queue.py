"""Who speaks now, for how long, and who is waiting to speak.

The panel has a fixed height whatever the queue's length: a hand going up or
down redraws a few lines instead of laying out the whole screen, and the
panels below it stay where the facilitator's eyes expect them. When more
hands are up than lines to show them, the last line names the rest.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from facilitator.components import update_if_changed

from facilitator.mirror import fmt_secs, name_of


def fit(t: Text, width: int) -> Text:
    """One line, cut with an ellipsis: a long name must not wrap out of a fixed panel."""
    if width > 0:
        t.truncate(width, overflow="ellipsis")
    return t


class SpeakerLine(Static):
    """The current turn's clock: the only part of the panel that ticks (the app's clock, once a second)."""

    def show(self, s, now: float) -> None:
        t = Text()
        if s is None or s.speaker is None:
            t.append("nobody speaking", "dim")
        else:
            t.append("▶ ", "bold green")
            t.append(name_of(s, s.speaker), "bold")
            if s.turn_started is not None:
                t.append(f"  {fmt_secs(now - s.turn_started)}")
            if s.turn_ends is not None:
                left = s.turn_ends - now
                t.append(f"  ({fmt_secs(max(0, left))} left)", "bold red" if left < 10 else "yellow")
        update_if_changed(self, fit(t, self.content_region.width))


class Hands(Static):
    """The raised hands, in the order they will speak, in as many lines as the panel has."""

    _room = None      # the room last shown, drawn again when the panel's size changes

    def lines(self) -> int:
        h = self.styles.height
        return int(h.value) if h is not None and h.is_cells else max(1, self.content_region.height)

    def on_resize(self) -> None:
        # a taller or narrower terminal shows more or fewer hands, cut at another width
        self.show(self._room)

    def show(self, s) -> None:
        self._room = s
        if s is None:
            return
        width = self.content_region.width
        rows: list[Text] = []
        room = self.lines() - (1 if s.go_around is not None else 0)
        queue = s.queue
        shown = queue if len(queue) <= room else queue[:max(0, room - 1)]
        for i, pid in enumerate(shown, 1):
            m = s.members.get(pid)
            if m is not None and m.status != "present":
                # keeps their place, but "next" passes over them until they are back
                rows.append(Text.assemble((f"{i}. ↯ ", "dim"), (name_of(s, pid), "dim"),
                                          (f" ({m.status}, skipped)", "dim italic")))
            else:
                rows.append(Text.assemble((f"{i}. ✋ ", "yellow"), name_of(s, pid)))
        if len(shown) < len(queue):
            rest = queue[len(shown):]
            rows.append(Text.assemble((f"+{len(rest)} more: ", "yellow"),
                                      ", ".join(name_of(s, pid) for pid in rest)))
        if not queue:
            rows.append(Text("no hands raised", "dim"))
        if s.go_around is not None:
            rows.append(Text(f"go-around: {len(s.go_around)} to go, {s.go_around_seconds}s each", "cyan"))
        update_if_changed(self, Text("\n").join(fit(r, width) for r in rows))


class SpeakingQueue(Vertical):
    def compose(self) -> ComposeResult:
        yield SpeakerLine(id="speaker")
        yield Hands(id="hands")

    def on_mount(self) -> None:
        self.border_title = "Speaking"

    def show(self, s, now: float) -> None:
        if s is None:
            return
        self.query_one(SpeakerLine).show(s, now)
        self.query_one(Hands).show(s)
        self.border_title = f"Speaking · {s.queue_mode}" + (f" · {len(s.queue)} ✋" if s.queue else "")
