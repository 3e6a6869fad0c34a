"""The agenda's segments: go to any, back as well as forward."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class AgendaScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, state):
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        s = self.state
        with Vertical(classes="dialog") as v:
            v.border_title = "Agenda"
            yield Label("Enter goes to the segment; its clock starts again.", classes="hint")
            options = []
            for i, item in enumerate(s.agenda):
                mark = "▶" if i == s.agenda_index else " "
                options.append(Option(f"{mark} {i + 1}. {item.title}  ({round(item.minutes)} min)", id=str(i)))
            yield OptionList(*options, id="segments")

    def on_mount(self) -> None:
        s = self.state
        ol = self.query_one(OptionList)
        ol.highlighted = s.agenda_index if s.agenda_index is not None else 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)
