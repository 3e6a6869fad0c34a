"""Who speaks now, for how long, and who is waiting to speak."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from facilitator.components import update_if_changed

from facilitator.mirror import fmt_secs, name_of


class SpeakerLine(Static):
    """The current turn's clock: the only part of the panel that ticks."""

    def on_mount(self) -> None:
        self.set_interval(1.0, self.show)

    def show(self) -> None:
        s = self.app.room
        t = Text()
        if s is None or s.speaker is None:
            t.append("nobody speaking", "dim")
        else:
            now = self.app.now()
            t.append("▶ ", "bold green")
            t.append(name_of(s, s.speaker), "bold")
            if s.turn_started is not None:
                t.append(f"  {fmt_secs(now - s.turn_started)}")
            if s.turn_ends is not None:
                left = s.turn_ends - now
                t.append(f"  ({fmt_secs(max(0, left))} left)", "bold red" if left < 10 else "yellow")
        update_if_changed(self, t)


class SpeakingQueue(Vertical):
    def compose(self) -> ComposeResult:
        yield SpeakerLine(id="speaker")
        yield Static(id="hands")

    def on_mount(self) -> None:
        self.border_title = "Speaking"

    def show(self) -> None:
        s = self.app.room
        if s is None:
            return
        self.query_one(SpeakerLine).show()
        t = Text()
        for i, pid in enumerate(s.queue, 1):
            if i > 1:
                t.append("\n")
            t.append(f"{i}. ✋ ", "yellow")
            t.append(name_of(s, pid))
        if not s.queue:
            t.append("no hands raised", "dim")
        if s.go_around is not None:
            t.append(f"\ngo-around: {len(s.go_around)} still to speak, {s.go_around_seconds}s each", "cyan")
        update_if_changed(self.query_one("#hands", Static), t)
        self.border_title = f"Speaking · {s.queue_mode}" + (f" · {len(s.queue)} ✋" if s.queue else "")
