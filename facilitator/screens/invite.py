"""Join details for participants of a room this console's own server hosts."""
from __future__ import annotations

import re
import secrets

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea

from facilitator.screens import steady_cursors


class InviteScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+y", "copy", "Copy the last link")]

    def __init__(self, issue, staff_link: str | None = None):
        """`issue(person_id, name) -> (token, http_link, join_command)`; `staff_link`: the
        staff voice page with this console's token (for staff only: it carries their identity)."""
        super().__init__()
        self.issue = issue
        self.staff_link = staff_link
        self.last_link: str | None = staff_link

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = "Invite participants"
            yield Label("Name of the participant (Enter for a link):")
            yield Input(placeholder="e.g. Alex", id="name")
            yield TextArea(self._staff_block(), read_only=True, id="out", soft_wrap=True)
            yield Label("Send each person their own link: it carries their identity. "
                        "Copy copies the newest link (or select text with the mouse).", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Make link", variant="primary", id="make")
                yield Button("Copy", id="copy")
                yield Button("Close", id="close")

    def _staff_block(self) -> str:
        if self.staff_link is None:
            return ""
        return (f"Your voice (staff only, do not send to participants):\n  staff page: {self.staff_link}\n"
                "  join voice there; listen in to any breakout from it\n\n")

    def on_mount(self) -> None:
        steady_cursors(self)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._make()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "make":
            self._make()
        elif event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_copy(self) -> None:
        if self.last_link is None:
            self.notify("Make a link first", severity="warning")
            return
        # the terminal's clipboard (OSC 52): works over ssh too, where terminals allow it
        self.app.copy_to_clipboard(self.last_link)
        self.notify("Link copied")

    def _make(self) -> None:
        inp = self.query_one("#name", Input)
        name = inp.value.strip()
        if not name:
            self.notify("Type a name first", severity="warning")
            return
        pid = (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "p")[:20] + "-" + secrets.token_hex(2)
        token, link, command = self.issue(pid, name)
        out = self.query_one("#out", TextArea)
        block = f"{name} ({pid})\n  page:     {link}\n  terminal: {command}\n  token:    {token}\n\n"
        # the staff link stays on top; the newest participant's link comes next
        staff = self._staff_block()
        out.text = staff + block + out.text[len(staff):]
        inp.value = ""
        self.last_link = link

    def action_close(self) -> None:
        self.dismiss(None)
