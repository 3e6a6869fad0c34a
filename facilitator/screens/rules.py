"""Pick the other person of a keep-together or keep-apart rule.

Opened from the breakout screen on the highlighted person (`t` together, `x`
apart). Each other participant is listed with the rule it would set or, if
that rule is already there, drop; the choice becomes one `breakouts_rule`
command. Rules are staff-only: participants never learn them.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from facilitator.mirror import name_of
from protocol.commands import BreakoutsRule
from protocol.state import RoomState

WORDS = {"together": "keep together with", "apart": "keep apart from"}


def rule_choices(s: RoomState, pid: str, kind: str) -> list[tuple[str, str, bool]]:
    """(other id, label, removes) for every other participant the room knows as present or dropped."""
    me = s.members[pid]
    out = []
    for m in s.members.values():
        if m.id == pid or m.role != "participant" or m.status not in ("present", "dropped"):
            continue
        has = m.id in getattr(me, kind) or pid in getattr(m, kind)
        out.append((m.id, f"{'✓ ' if has else '  '}{name_of(s, m.id)}" + ("  (drop this rule)" if has else ""), has))
    return out


class RulePicker(ModalScreen[BreakoutsRule | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, s: RoomState, pid: str, kind: str):
        super().__init__()
        self.pid, self.kind = pid, kind
        self.title_text = f"{name_of(s, pid)}: {WORDS[kind]}…"
        self.choices = rule_choices(s, pid, kind)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as v:
            v.border_title = "Breakout rule"
            yield Label(self.title_text)
            yield OptionList(*[Option(label, id=oid) for oid, label, _ in self.choices], id="rule-people")
            yield Label("Enter set / drop · Esc cancel · facilitators only", classes="hint")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        if self.choices:
            ol.highlighted = 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        removes = {oid: has for oid, _, has in self.choices}
        other = event.option.id
        self.dismiss(BreakoutsRule(kind=self.kind, target=self.pid, other=other, remove=removes[other]))

    def action_cancel(self) -> None:
        self.dismiss(None)
