"""The group note draft, offered when a program's session closes, saved where the user says.

The draft is `session-server export --format note` (server.programs.documents.group_note),
read through the embedded hub, which holds the record. It names members and their scores:
it is written owner-only, and only to the path the user confirms (by default the data
directory's exports/, never the directory the console was started from).
"""
from __future__ import annotations

import os

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea

from server.programs import load_program
from server.programs.documents import group_note


def note_for(record, program_id: str, room: str) -> str:
    p = load_program(record, program_id)
    if p is None:
        raise LookupError(f"the record has no program {program_id!r}")
    return group_note(record, p, room)


def write_private(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class NoteDraftScreen(ModalScreen[str | None]):
    """The draft to read, a path to save it to; dismissed with the path written (or None)."""
    BINDINGS = [Binding("escape", "close", "Not now")]

    def __init__(self, text: str, default_path: str):
        super().__init__()
        self.text, self.default_path = text, default_path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = "Group note draft"
            yield TextArea(self.text, read_only=True, id="draft")
            yield Label("Save the draft (Markdown) to", classes="hint")
            yield Input(self.default_path, id="path")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Not now", id="close")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._save() if event.button.id == "save" else self.dismiss(None)

    def _save(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        if path:
            self._write(os.path.abspath(os.path.expanduser(path)))

    @work(thread=True, exclusive=True)
    def _write(self, path: str) -> None:
        try:
            write_private(path, self.text)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"Could not write {path}: {exc.strerror}", severity="error")
            return
        self.app.call_from_thread(self.dismiss, path)

    def action_close(self) -> None:
        self.dismiss(None)
