"""The breakout screen's message to every room, reachable by one key, and typing kept out of `l`.

A facilitator who starts typing a message while a room column has focus must
not move themselves into another room: `l` (listen in) is ignored while the
keys before it were letters that no binding uses, that is, while someone is
typing. `m` puts the cursor in the message field from anywhere on the screen.
Kept apart from breakouts.py, which other work changes too.
"""
from __future__ import annotations

import time

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input

TYPING_PAUSE = 1.0     # seconds after the last stray letter before `l` means "listen in" again


class BroadcastKeys(ModalScreen[None]):
    BINDINGS = [Binding("m", "write_rooms", "Message every room")]
    _typed_at = 0.0

    def on_key(self, event) -> None:
        if isinstance(self.focused, Input) or not event.is_printable:
            return
        if event.key != "l" and not self._bindings.key_to_bindings.get(event.key):
            self._typed_at = time.monotonic()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "listen" and time.monotonic() - self._typed_at < TYPING_PAUSE:
            self.notify("Typing? Press m to write to every room; l listens in.", severity="warning", timeout=4)
            return False
        return super().check_action(action, parameters)

    def action_write_rooms(self) -> None:
        self.query_one("#broadcast", Input).focus()
