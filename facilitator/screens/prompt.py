"""A one-field question: go-around seconds, a chat line, a broadcast, a time to jump to."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from facilitator.screens import steady_cursors
from facilitator.screens.dialog import Dialog


class PromptScreen(Dialog[str | None]):
    def __init__(self, title: str, label: str, value: str = "", placeholder: str = "",
                 ok: str = "OK", restrict: str | None = None, danger: bool = False, empty_ok: bool = False):
        super().__init__()
        self.danger, self.empty_ok = danger, empty_ok
        self.title_text, self.label, self.value = title, label, value
        self.placeholder, self.ok, self.restrict = placeholder, ok, restrict

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as v:
            v.border_title = self.title_text
            yield Label(self.label)
            yield Input(self.value, placeholder=self.placeholder, restrict=self.restrict, id="answer")
            with Horizontal(classes="buttons"):
                yield Button(self.ok, variant="error" if self.danger else "primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        steady_cursors(self)

    def submit(self) -> None:
        text = self.query_one("#answer", Input).value.strip()
        # empty_ok: the answer is optional (a reason), so an empty one still means "go ahead"
        self.dismiss(text if self.empty_ok else (text or None))


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "no", "No"), Binding("y", "yes", "Yes")]

    def __init__(self, question: str, yes: str = "Yes"):
        super().__init__()
        self.question, self.yes = question, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("No", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)
