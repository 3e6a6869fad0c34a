"""The shape every form-like dialog shares: Enter or OK submits, Cancel or Escape closes with nothing."""
from __future__ import annotations

from typing import Generic, TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Button, Input

R = TypeVar("R")


class Dialog(ModalScreen[R], Generic[R]):
    """A subclass gives `submit`, which reads its fields and dismisses with the result (or stays
    open and says what is wrong). Its own buttons other than #ok mean "cancel"."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def submit(self) -> None:
        raise NotImplementedError

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
