"""A private note or a risk flag about one participant (facilitators only ever see them)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

from facilitator.screens import steady_cursors
from facilitator.screens.dialog import Dialog
from protocol.commands import Command, Flag, Note


class NoteScreen(Dialog[Command | None]):
    # Up and Down choose the level from the reason field too: the Input does not use them,
    # and a facilitator in a hurry should not have to Tab back to make a flag urgent.
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("up", "level('watch')", show=False),
                Binding("down", "level('urgent')", show=False)]

    def __init__(self, target: str, name: str, flag: bool = False):
        super().__init__()
        self.target, self.name_, self.flag = target, name, flag

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as v:
            v.border_title = f"{'Flag' if self.flag else 'Note'}: {self.name_}"
            if self.flag:
                with RadioSet(id="level"):
                    yield RadioButton("watch", value=True, id="watch")
                    yield RadioButton("urgent", id="urgent")
                yield Label("Reason (required) · ↑ watch, ↓ urgent", classes="hint")
            else:
                yield Label("Note (facilitators only)")
            yield Input(id="text")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="warning" if self.flag else "primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        steady_cursors(self)
        self.query_one("#text", Input).focus()

    def submit(self) -> None:
        text = self.query_one("#text", Input).value.strip()
        if self.flag:
            if not text:
                self.notify("Give the flag a reason: the next facilitator needs to know why",
                            severity="warning")
                return
            pressed = self.query_one("#level", RadioSet).pressed_button
            level = "urgent" if pressed is not None and pressed.id == "urgent" else "watch"
            self.dismiss(Flag(target=self.target, level=level, reason=text))
            return
        if not text:
            self.notify("Write the note first", severity="warning")
            return
        self.dismiss(Note(target=self.target, text=text))

    def action_level(self, level: str) -> None:
        if self.flag:
            self.query_one(f"#{level}", RadioButton).value = True
