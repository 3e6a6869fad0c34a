"""One person at a glance: their notes, flags, location and time, and what to do next.

The roster has no room for a note's text or a flag's reason; this card shows
them, and at 80 columns the columns the roster drops (talk time, minutes
present, location). It closes with the action chosen, which the app then runs
on this person, so every action keeps one implementation.
"""
from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from facilitator.screens import FollowsRoom
from facilitator.mirror import attended, fmt_secs, name_of, talk_shares, voice_shares


def card(s, pid: str, now: float) -> Text:
    m = s.members.get(pid)
    if m is None:
        return Text("This person is no longer in the room.")
    out = Text()
    out.append(f"{m.name}", "bold")
    out.append(f"  {m.status}")
    if m.breakout:
        out.append(f"  · room {m.breakout}")
    out.append("\n")
    secs, share = talk_shares(s, now).get(pid, (0.0, 0.0))
    here = attended(m, now)
    out.append(f"Spoke {fmt_secs(secs)} ({round(share * 100)}% of talk) · here {here / 60:.0f} min", "dim")
    if m.drops:
        out.append(f" · dropped {m.drops}×", "yellow")
    out.append("\n")
    voice, vshare = voice_shares(s, now).get(pid, (0.0, 0.0))
    if voice or pid in s.in_voice or pid in s.muted:
        # measured speech, for the facilitators' eyes: who spoke, not only who held a turn
        out.append(f"Voice: measured speech {fmt_secs(voice)} ({round(vshare * 100)}% of speech)", "dim")
        if m.talking_since is not None:
            out.append(" · talking now", "bold green")
        if pid in s.muted:
            out.append(" · muted by staff", "bold red")
        out.append("\n")
    out.append("Location: ", "bold")
    out.append((m.location or "not checked in") + "\n", "" if m.location else "yellow")
    out.append("\nFlags\n", "bold underline")
    if not m.flags:
        out.append("  none\n", "dim")
    for f in m.flags:
        when = time.strftime("%H:%M", time.localtime(f.at))
        style = "bold red" if f.level == "urgent" and f.cleared_at is None else ("dim" if f.cleared_at else "yellow")
        out.append(f"  {when} {f.level:<6} {f.reason or '(no reason given)'}", style)
        out.append(f"  by {name_of(s, f.by)}", "dim")
        if f.cleared_at is not None:
            out.append(f" · cleared {time.strftime('%H:%M', time.localtime(f.cleared_at))}"
                       f" by {name_of(s, f.cleared_by)}", "dim")
        out.append("\n")
    notes = [n for n in s.notes if n.target == pid]
    out.append("\nNotes (staff only)\n", "bold underline")
    if not notes:
        out.append("  none\n", "dim")
    for n in notes:
        out.append(f"  {time.strftime('%H:%M', time.localtime(n.at))} ", "dim")
        out.append(n.text)
        out.append(f"  by {name_of(s, n.by)}\n", "dim")
    return out


class PersonScreen(FollowsRoom, ModalScreen[str | None]):
    """Dismisses with the name of the action to run on this person, or None."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("v", "close", "Close", show=False),
                Binding("N", "pick('note')", "Note"), Binding("f", "pick('flag')", "Flag"),
                Binding("F", "pick('clear_flag')", "Clear flags"), Binding("w", "pick('message_person')", "Message")]

    def __init__(self, pid: str, can_act: bool, state, now: float):
        super().__init__()
        self.pid, self.can_act = pid, can_act
        self.state, self.at = state, now     # the room as last drawn, and when

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide") as v:
            v.border_title = "Person"
            with VerticalScroll(id="person-body"):
                yield Static(id="card")
            if self.can_act:
                with Horizontal(classes="buttons"):
                    yield Button("Note (N)", id="note")
                    yield Button("Flag (f)", variant="warning", id="flag")
                    yield Button("Clear flags (F)", id="clear_flag")
                    yield Button("Message (w)", id="message_person")

    def on_mount(self) -> None:
        self.show()
        self.query_one("#person-body").focus()

    def show(self) -> None:
        s = self.state
        if s is not None:
            self.query_one("#card", Static).update(card(s, self.pid, self.at))
            self.query_one(Vertical).border_title = f"Person: {name_of(s, self.pid)}"

    def check_action(self, action: str, parameters) -> bool | None:
        return self.can_act if action == "pick" else True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_pick(self, what: str) -> None:
        self.dismiss(what)

    def action_close(self) -> None:
        self.dismiss(None)
