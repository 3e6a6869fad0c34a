"""The waiting room: who knocked, and whether they are ready to be let in."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from facilitator.mirror import waiting


class WaitingRoom(OptionList):
    """Enter admits the highlighted person; the app's keys act on it too."""

    def on_mount(self) -> None:
        self.border_title = "Waiting room"
        self._sig = None

    @property
    def selected(self) -> str | None:
        if self.highlighted is None or self.option_count == 0:
            return None
        return self.get_option_at_index(self.highlighted).id

    def show(self, s) -> None:
        if s is None:
            return
        people = waiting(s)
        sig = tuple((m.id, m.agreed, bool(m.location)) for m in people)
        if sig == self._sig:
            return
        self._sig = sig
        keep = self.selected
        self.clear_options()
        for m in people:
            t = Text(m.name[:18], "bold")
            if s.agreement:
                t.append("  agreed ✓" if m.agreed else "  agreed ✗", "green" if m.agreed else "yellow")
            t.append("  loc ✓" if m.location else "  loc ·", "green" if m.location else "dim")
            if not m.expected:
                t.append("  guest", "magenta")
            self.add_option(Option(t, id=m.id))
        ids = [m.id for m in people]
        if ids:
            self.highlighted = ids.index(keep) if keep in ids else 0
        self.border_title = f"Waiting room ({len(people)})" if people else "Waiting room"
        self.set_class(bool(people), "-someone")
