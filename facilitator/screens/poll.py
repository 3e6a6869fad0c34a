"""Create a poll, or one of the ready-made check-ins, and open it at once if wished."""
from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select

from facilitator.screens import steady_cursors
from facilitator.screens.dialog import Dialog
from protocol.commands import Command, PollCreate, PollOpen

# Ready-made check-ins first: they are what a group starts with most evenings.
KINDS = [
    ("Mood check-in (0-10)", "mood"),
    ("PHQ-2 (depression screen)", "phq2"),
    ("GAD-2 (anxiety screen)", "gad2"),
    ("Single choice", "single"),
    ("Multiple choice", "multi"),
    ("Scale", "scale"),
]

# A named mood of 3 or less tells the facilitators at once, as a PHQ-2 of 3+ does.
MOOD_ALERT = 3


def build(kind: str, question: str, options: str, lo: str, hi: str, anonymous: bool,
          poll_id: str) -> PollCreate:
    opts = [o.strip() for o in options.split(",") if o.strip()]
    if kind == "mood":
        return PollCreate(id=poll_id, kind="scale", question=question or "How are you feeling right now, 0 to 10?",
                          min=0, max=10, anonymous=anonymous,
                          alert_at_or_below=None if anonymous else MOOD_ALERT)
    if kind in ("phq2", "gad2"):
        # the server words the standard items itself; questionnaires are never anonymous
        return PollCreate(id=poll_id, kind=kind, question=question)
    if kind == "scale":
        return PollCreate(id=poll_id, kind="scale", question=question, min=int(lo or 0), max=int(hi or 10),
                          anonymous=anonymous)
    return PollCreate(id=poll_id, kind=kind, question=question, options=opts, anonymous=anonymous)


class PollScreen(Dialog[list[Command] | None]):
    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide") as v:
            v.border_title = "New poll"
            yield Select(KINDS, value="mood", allow_blank=False, id="kind")
            yield Input(placeholder="Question (the check-ins have one already)", id="question")
            yield Input(placeholder="Options, separated by commas", id="options")
            with Horizontal(id="range"):
                yield Input("0", restrict=r"-?\d*", id="min")
                yield Input("10", restrict=r"-?\d*", id="max")
            with Horizontal(classes="checks"):
                yield Checkbox("Anonymous", id="anonymous")
                yield Checkbox("Open now", value=True, id="open")
            yield Label("", id="hint", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Create", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        steady_cursors(self)
        self._kind_changed("mood")

    def on_select_changed(self, event: Select.Changed) -> None:
        self._kind_changed(str(event.value))

    def _kind_changed(self, kind: str) -> None:
        self.query_one("#options").display = kind in ("single", "multi")
        self.query_one("#range").display = kind == "scale"
        self.query_one("#anonymous").display = kind not in ("phq2", "gad2")
        hint = {
            "mood": f"0 to 10; a named answer of {MOOD_ALERT} or less alerts you. Participants see only totals you share.",
            "phq2": "Two items scored 0-3; a total of 3 or more raises a check-in alert.",
            "gad2": "Two items scored 0-3; a total of 3 or more raises a check-in alert.",
        }.get(kind, "")
        self.query_one("#hint", Label).update(hint)

    def submit(self) -> None:
        kind = str(self.query_one("#kind", Select).value)
        poll_id = f"{'mood' if kind == 'mood' else kind}-{time.strftime('%H%M%S')}"
        try:
            cmd = build(kind, self.query_one("#question", Input).value.strip(),
                        self.query_one("#options", Input).value, self.query_one("#min", Input).value,
                        self.query_one("#max", Input).value, self.query_one("#anonymous", Checkbox).value,
                        poll_id)
        except ValueError:
            self.notify("min and max must be whole numbers", severity="error")
            return
        cmds: list[Command] = [cmd]
        if self.query_one("#open", Checkbox).value:
            cmds.append(PollOpen(id=poll_id))
        self.dismiss(cmds)
