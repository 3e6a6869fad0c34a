"""The satisfaction survey in the console: tonight's answers, and a program's results across sessions.

Tonight's numbers come from the mirrored room (`RoomState.survey`, the engine's fold)
and are summed by the engine's own `survey.summary`; the program's come from the
record, through the hub (`server.programs.on_hub`), by `server.programs.surveys`, the
fold the exports use. Neither screen names who gave which rating: counts, medians and
the comments, unattributed, are what a facilitator needs at the close.
"""
from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from facilitator.screens import FollowsRoom
from server.engine.permissions import allowed
from server.engine.survey import HIGHEST, LOWEST, SHORT, summary

RATINGS = [str(k) for k in range(LOWEST, HIGHEST + 1)]


def fmt_median(m: float | None) -> str:
    return "–" if m is None else f"{m:g}"


def present_count(state) -> int:
    return sum(1 for m in state.members.values() if m.role == "participant" and m.admitted)


class SurveyScreen(FollowsRoom, ModalScreen[None]):
    """Tonight's survey: ask it, close it, and see the answers come in."""
    DEFAULT_CSS = """
    SurveyScreen #items { height: auto; max-height: 8; }
    SurveyScreen #comments { height: 1fr; min-height: 3; }
    SurveyScreen #toggle { width: 24; }   /* its longest label, so a new one is not cut */
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("o", "toggle", "Ask / close"),
                Binding("r", "results", "Across sessions")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = "Satisfaction survey"
            yield Static("", id="state")
            yield DataTable(id="items", cursor_type="none", zebra_stripes=True)
            yield Label("Comments (unattributed)", classes="hint")
            yield Static("", id="comments")
            with Horizontal(classes="buttons"):
                yield Button("Ask the survey (o)", variant="primary", id="toggle")
                yield Button("Across sessions (r)", id="results")
                yield Button("Close", id="close")

    def __init__(self, state):
        super().__init__()
        self.state = state          # the room as last drawn; RoomChanged brings each new one

    def on_mount(self) -> None:
        self.query_one("#items", DataTable).add_columns("Item", *RATINGS, "Median")
        self.show()

    def show(self) -> None:
        s = self.state
        if s is None:
            return
        sv = s.survey
        toggle = self.query_one("#toggle", Button)
        table = self.query_one("#items", DataTable)
        table.clear()
        if not s.survey_enabled:
            self.query_one("#state", Static).update(
                "This session has no survey: a program turns it on with [b]survey = true[/b] in its file.")
            toggle.disabled = True
            return
        may = allowed(self.app.role, "survey_open")
        if sv is None:
            self.query_one("#state", Static).update(
                "Not asked yet. Ask it near the close: each participant rates three items from "
                f"{LOWEST} to {HIGHEST} and may leave a comment. Answers come to staff only.")
            toggle.label, toggle.disabled = "Ask the survey (o)", not may
            self.query_one("#comments", Static).update("")
            return
        came = present_count(s)
        state = "open: answers are coming in" if sv.state == "open" else "closed"
        self.query_one("#state", Static).update(
            f"Survey {state} · [b]{len(sv.ratings)}[/b] of {came} participant(s) answered")
        for i, (text, counts, m) in enumerate(summary(sv.ratings, sv.items)):
            table.add_row(text, *(str(counts[k]) for k in range(LOWEST, HIGHEST + 1)), fmt_median(m),
                          key=SHORT[i] if i < len(SHORT) else str(i))
        comments = [t for t in sv.comments.values() if t]
        self.query_one("#comments", Static).update(
            "\n".join(f"• {t}" for t in comments) if comments else "(none yet)")
        toggle.label = "Close the survey (o)" if sv.state == "open" else "Ask it again (o)"
        toggle.disabled = not may

    def action_toggle(self) -> None:
        self.app.action_toggle_survey()     # the one decision (facilitator/decisions.py)

    def action_results(self) -> None:
        s, source = self.state, self.app.program_source()
        t = self.app.target
        program = (t.program[0] if t is not None and t.program is not None else None) or (s.program if s else "")
        if source is None or not program:
            self.app.notify("This session is not one of a program's: results across sessions are a program's",
                            severity="warning", timeout=6)
            return
        self.app.push_screen(SurveyResultsScreen(source, program))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "toggle":
            self.action_toggle()
        elif event.button.id == "results":
            self.action_results()
        else:
            self.dismiss(None)


class SurveyResultsScreen(ModalScreen[None]):
    """A program's survey across its sessions: date, how many answered, the median of each item."""
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, source, program_id: str):
        super().__init__()
        self.source, self.program_id = source, program_id     # facilitator.program_source

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = "Survey results across sessions"
            yield Static("Reading the record…", id="about")
            yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
            yield Label("", id="items", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#sessions", DataTable).add_columns(
            "Date", "Session", "Answered", *(f"{k} (median)" for k in SHORT), "Comments")
        self.reload()

    @work(exclusive=True, group="survey-results")
    async def reload(self) -> None:
        try:
            found = await self.source.surveys(self.program_id)
        except Exception as exc:     # noqa: BLE001 - the server away or refusing: say so on the screen
            self.query_one("#about", Static).update(f"Could not read the survey results: {exc}")
            return
        if found is None:
            self.query_one("#about", Static).update(f"The record has no program {self.program_id!r}.")
            return
        p, results = found
        table = self.query_one("#sessions", DataTable)
        table.clear()
        asked = [r for r in results if r.asked]
        for r in results:
            if r.asked:
                table.add_row(r.date, r.room, f"{r.answered} of {r.present}",
                              *(fmt_median(m) for m in r.medians), str(r.comments), key=r.room)
            else:
                table.add_row(r.date, r.room, "not asked", *("" for _ in SHORT), "", key=r.room)
        state = "on" if p.survey else "off (Settings on the program screen turn it on)"
        self.query_one("#about", Static).update(
            f"[b]{p.title or p.id}[/b] · survey {state} · asked in {len(asked)} of {len(results)} session(s)")
        items = next((r.items for r in asked), [])
        self.query_one("#items", Label).update(
            "  ".join(f"{k}: {t}" for k, t in zip(SHORT, items)) + (f"  ({LOWEST} to {HIGHEST})" if items else ""))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)
