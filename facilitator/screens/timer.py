"""Start a named countdown: a break, a breakout, a go-around."""
from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from facilitator.screens import steady_cursors
from protocol.commands import TimerStart

PRESETS = [1, 3, 5, 10, 15]


def parse_duration(text: str) -> int | None:
    """'5' or '5m' minutes, '90s' seconds, '2:30' m:ss; None if unreadable."""
    text = text.strip().lower()
    if m := re.fullmatch(r"(\d+):(\d{1,2})", text):
        return int(m[1]) * 60 + int(m[2])
    if m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*(m|min)?", text):
        return round(float(m[1]) * 60)
    if m := re.fullmatch(r"(\d+)\s*s", text):
        return int(m[1])
    return None


class TimerScreen(ModalScreen[TimerStart | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, existing: set[str] | frozenset = frozenset()):
        super().__init__()
        self.existing = existing

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as v:
            v.border_title = "Start a timer"
            yield Label("Length (5, 5m, 90s, 2:30)")
            yield Input("5", id="length")
            yield Label("Label")
            yield Input("Break", id="label")
            with Horizontal(classes="buttons presets"):
                for n in PRESETS:
                    yield Button(f"{n}m", id=f"p{n}", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Start", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        steady_cursors(self)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id or ""
        if bid.startswith("p"):
            self.query_one("#length", Input).value = bid[1:]
            self._start()
        elif bid == "ok":
            self._start()
        else:
            self.dismiss(None)

    def _start(self) -> None:
        secs = parse_duration(self.query_one("#length", Input).value)
        if not secs or secs > 6 * 3600:
            self.notify("Give a length such as 5, 5m, 90s or 2:30", severity="error")
            return
        label = self.query_one("#label", Input).value.strip()
        base = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "timer"
        tid, n = base, 2
        while tid in self.existing:
            tid, n = f"{base}-{n}", n + 1
        self.dismiss(TimerStart(id=tid[:64], seconds=secs, label=label[:200]))

    def action_cancel(self) -> None:
        self.dismiss(None)
