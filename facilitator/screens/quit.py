"""Quitting while a session is open: say what it does, and offer to close the session properly."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class QuitScreen(ModalScreen[str | None]):
    """Dismisses with "quit", "close" (close the session, then quit) or None (stay)."""

    BINDINGS = [Binding("escape", "stay", "Stay"), Binding("y", "pick('quit')", "Quit", show=False)]

    def __init__(self, local: bool, may_close: bool, port: int | None = None, again: str = ""):
        super().__init__()
        self.local, self.may_close, self.port, self.again = local, may_close, port, again

    def compose(self) -> ComposeResult:
        if self.local and self.port and self.again:
            what = ("This room's server runs inside this console: quitting stops it, and participants "
                    f"see “Reconnecting…” until you start `{self.again}` again. It comes back "
                    f"on port {self.port} with the same links, and nothing that happened is lost.")
        elif self.local:
            what = "This demo runs inside this console: quitting ends it and its simulated group."
        else:
            what = ("The session stays open on the server; participants are not affected. "
                    "Start the console again to come back to it.")
        with Vertical(classes="dialog wide") as v:
            v.border_title = "Quit while the session is open?"
            yield Label(what, classes="hint")
            if self.may_close:
                yield Label("Closing the session ends it for everyone and makes attendance final.",
                            classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Stay", variant="primary", id="stay")
                yield Button("Quit (y)", id="quit")
                if self.may_close:
                    yield Button("Close session and quit", variant="error", id="close")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "stay" else event.button.id)

    def action_pick(self, what: str) -> None:
        self.dismiss(what)

    def action_stay(self) -> None:
        self.dismiss(None)
