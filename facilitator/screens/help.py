"""Every key this console offers this role, grouped by what it is for, and the roster's legend.

Made from `facilitator.actions`, like the footer and the palette: what the help
screen lists is exactly what the keys do.
"""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from facilitator.actions import GROUPS, ROSTER_LEGEND, Action, key_display, with_article


def _grid() -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(width=6, style="bold cyan", no_wrap=True)
    t.add_column(width=16, no_wrap=True)
    t.add_column(ratio=1)
    return t


def help_table(actions: list[Action], role_label: str) -> Group:
    """Each purpose's heading on its own line, then its keys: a heading never gets cut."""
    parts: list = []
    groups: dict[str, list[Action]] = {g: [] for g in GROUPS}
    for a in actions:
        groups.setdefault(a.group, []).append(a)
    for group, items in groups.items():
        if not items:
            continue
        parts.append(Text(group, "bold underline"))
        t = _grid()
        for a in items:
            key = key_display(a.key) if a.key else Text("ctrl+p", "dim")
            t.add_row(key, a.label, Text(a.help, "dim"))
        parts += [t, Text("")]
    parts.append(Text("Anywhere", "bold underline"))
    t = _grid()
    t.add_row("ctrl+p", "Palette", Text("Every action by name, with its key", "dim"))
    t.add_row("Tab", "Next panel", Text("Roster, waiting room, dialogs' fields", "dim"))
    t.add_row("Enter", "Person", Text("On a roster row: their notes, flags, location, time", "dim"))
    t.add_row("Esc", "Close", Text("Closes this screen and every dialog", "dim"))
    parts += [t, Text(""), Text("Roster columns", "bold underline")]
    legend = Table.grid(padding=(0, 1))
    legend.add_column(width=12, style="bold", no_wrap=True)
    legend.add_column(ratio=1)
    for head, meaning in ROSTER_LEGEND:
        legend.add_row(head, Text(meaning, "dim"))
    parts.append(legend)
    if role_label:
        parts += [Text(""), Text(f"Only what {with_article(role_label)} may do is listed.", "italic")]
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close"), Binding("question_mark", "close", "Close", show=False),
                Binding("f1", "close", "Close", show=False), Binding("q", "close", "Close", show=False)]

    def __init__(self, actions: list[Action], role_label: str = ""):
        super().__init__()
        self.actions, self.role_label = actions, role_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = "Keys and help"
            v.border_subtitle = "Esc closes"
            with VerticalScroll(id="help-body"):
                yield Static(help_table(self.actions, self.role_label), id="help-table")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
