"""Answering a help request: who asked, from where, what they said, and a private reply.

Answering tells the person someone is coming; a reply, if written, goes to them
alone (and to staff) as a chat line.
"""
from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from facilitator.mirror import name_of
from facilitator.screens import steady_cursors
from facilitator.screens.dialog import Dialog


class HelpAnswerScreen(Dialog[tuple[int, str] | None]):
    def __init__(self, pending: list, state):
        super().__init__()
        self.pending, self.state = pending, state

    def compose(self) -> ComposeResult:
        s = self.state
        with Vertical(classes="dialog wide") as v:
            v.border_title = "Answer a help request"
            yield Label("Open requests, oldest first (↑↓ to choose):")
            options = []
            for h in self.pending:
                where = f"room {h.room}" if h.room else "main room"
                when = time.strftime("%H:%M", time.localtime(h.at))
                text = f" “{h.text}”" if h.text else ""
                options.append(Option(f"{when} {name_of(s, h.person)} ({where}){text}", id=str(h.help_id)))
            yield OptionList(*options, id="requests")
            yield Label("Reply, sent to them only (optional):")
            yield Input(placeholder="e.g. I'm coming to your room now", id="reply")
            with Horizontal(classes="buttons"):
                yield Button("Answer", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        steady_cursors(self)
        self.query_one("#requests", OptionList).highlighted = 0
        self.query_one("#reply", Input).focus()

    def _chosen(self) -> int:
        ol = self.query_one("#requests", OptionList)
        i = ol.highlighted or 0
        return self.pending[min(i, len(self.pending) - 1)].help_id

    def on_key(self, event) -> None:
        # Up and Down pick the request while the reply keeps focus
        if event.key in ("up", "down") and self.focused is self.query_one("#reply"):
            ol = self.query_one("#requests", OptionList)
            ol.action_cursor_up() if event.key == "up" else ol.action_cursor_down()
            event.stop()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#reply", Input).focus()

    def submit(self) -> None:
        self.dismiss((self._chosen(), self.query_one("#reply", Input).value.strip()))
