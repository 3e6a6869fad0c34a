"""The program behind tonight's session: schedule, staff, members, rules, score trends.

Everything is read and written through a program source (facilitator/program_source.py):
the embedded server's hub, whose writer thread is the record's only writer, or a running
server over the console's websocket. Changes are the program's own events, checked as
`program import` checks a file (`server.programs.changes`), audited and chained like the
rest of the record.
"""
from __future__ import annotations

import datetime as dt

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Sparkline, Static

from facilitator.screens.prompt import PromptScreen
from server.engine.permissions import allowed
from server.programs import store
from server.programs.model import MemberDischarged, MemberEnrolled
from server.programs.spec import ProgramError

# (label, the key score_trends uses, a widget id); scales: PHQ-2 and GAD-2 totals 0-6, mood 0-10
MEASURES = [("PHQ-2", "PHQ-2", "phq2"), ("GAD-2", "GAD-2", "gad2"), ("Mood", "mood", "mood")]
SCALE = {"PHQ-2": (0, 6), "GAD-2": (0, 6), "mood": (0, 10)}


class ProgramScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ProgramScreen #about { height: auto; margin-bottom: 1; }
    ProgramScreen #members { height: 1fr; min-height: 4; }
    ProgramScreen #trend { height: 3; }
    ProgramScreen .measure { width: 1fr; height: 3; padding-right: 2; }
    ProgramScreen Sparkline { height: 2; }
    ProgramScreen .buttons Button { min-width: 0; }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("e", "enrol", "Enrol"),
                Binding("d", "discharge", "Discharge"), Binding("r", "rules", "Rules"),
                Binding("j", "links", "Join links"), Binding("s", "settings", "Settings"),
                Binding("v", "survey", "Survey results")]

    def __init__(self, source, program_id: str, day: dt.date | None = None, role: str | None = None):
        super().__init__()
        self.source, self.program_id, self.day = source, program_id, day
        self.role = role        # before any room is joined (the start's pick), the console's own role
        self.program = None
        self.data: dict = {}
        self.trends: dict = {}

    @property
    def may_edit(self) -> bool:
        # the server's own rule for a program change (permissions.PROGRAMS), so the buttons and the server agree
        return allowed(self.role or self.app.role, "program_change")

    @property
    def may_issue(self) -> bool:
        return allowed(self.role or self.app.role, "program_links")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = "Program"
            yield Static("Loading the program…", id="about")
            yield DataTable(id="members", cursor_type="row")
            with Horizontal(id="trend"):
                for label, _key, wid in MEASURES:
                    with Vertical(classes="measure"):
                        yield Label(label, id=f"label-{wid}", classes="hint")
                        yield Sparkline([], id=f"spark-{wid}")
            yield Label("", id="hint", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Enrol e", id="enrol")
                yield Button("Discharge d", id="discharge")
                yield Button("Rules r", id="rules")
                yield Button("Settings s", id="settings")
                yield Button("Links j", variant="primary", id="links")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#members", DataTable).add_columns(
            "Member", "Id", "Enrolled", "Discharged", "With", "Apart", "PHQ-2", "GAD-2", "Mood")
        for b in ("enrol", "discharge", "rules", "settings"):
            self.query_one(f"#{b}", Button).disabled = not self.may_edit
        # everyone's links hold staff tokens: the facilitator's to hand out (the engine's matrix)
        self.query_one("#links", Button).disabled = not self.may_issue
        self.reload()

    @work(exclusive=True, group="program")
    async def reload(self) -> None:
        try:
            found = await self.source.get(self.program_id)
        except ProgramError as exc:
            self.query_one("#about", Static).update(str(exc))
            return
        if found is None:
            self.query_one("#about", Static).update(f"The record has no program {self.program_id!r}.")
            return
        self.program, self.data, self.trends = found
        self._show()

    def _show(self) -> None:
        d = self.data
        # weekdays that share a time read as one: "mon tue thu 18:00 (90 min)"
        slots: dict[tuple[str, int], list[str]] = {}
        for x in d["schedule"]:
            slots.setdefault((x["start"], x["minutes"]), []).append(x["weekday"])
        sched = ", ".join(f"{' '.join(days)} {start} ({mins} min)" for (start, mins), days in slots.items())
        staff = ", ".join(f"{s['name']} ({s['role']})" for s in d["staff"]) or "none"
        self.query_one("#about", Static).update(
            f"[b]{d['title'] or d['id']}[/b]  {d['id']} · {d['timezone']}\n"
            f"Schedule: {sched or 'none'}\n"
            f"Capacity {d['capacity']} · {d['weekly_hours_target']:g} h a week"
            f"{' · satisfaction survey on' if d.get('survey') else ''}"
            f" · {len(d['sessions'])} session(s) held\nStaff: {staff}")
        names = {m["id"]: m["name"] for m in d["members"]}
        table = self.query_one("#members", DataTable)
        keep = table.cursor_row
        table.clear()
        from server.programs.documents import spark
        for m in sorted(d["members"], key=lambda m: (m["discharged"] is not None, m["name"])):
            t = self.trends.get(m["id"], {})
            cells = [spark([v for _d, v in t.get(k, [])], *SCALE[k]) for _l, k, _w in MEASURES]
            table.add_row(m["name"], m["id"], m["enrolled"], m["discharged"] or "",
                          ", ".join(names.get(x, x) for x in m["together"]),
                          ", ".join(names.get(x, x) for x in m["apart"]), *cells, key=m["id"])
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self._trend()
        self.query_one("#hint", Label).update(
            "" if self.may_edit else "Only the facilitator changes the program or issues its join links.")

    def action_survey(self) -> None:
        from facilitator.screens.survey import SurveyResultsScreen
        self.app.push_screen(SurveyResultsScreen(self.source, self.program_id))

    def _today(self) -> dt.date:
        # the program's date, not this machine's: an evening in Chicago is already tomorrow in UTC
        return dt.datetime.now(store.zone(self.program)).date()

    def _selected(self) -> str | None:
        table = self.query_one("#members", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._trend()

    def _trend(self) -> None:
        """The highlighted member's scores across the program's sessions, one Sparkline a measure."""
        member = self._selected()
        t = self.trends.get(member, {}) if member else {}
        name = self.program.members[member].name if member and self.program else ""
        for label, key, wid in MEASURES:
            values = [v for _d, v in t.get(key, [])]
            # Sparkline scales to its own data: the label beside it gives the actual scores
            spark_w = self.query_one(f"#spark-{wid}", Sparkline)
            spark_w.data = values
            spark_w.styles.width = max(1, min(4 * len(values), 40))   # a bar a session, not one wide smear
            last = f": {', '.join(f'{v:g}' for v in values[-6:])}" if values else ": none yet"
            self.query_one(f"#label-{wid}", Label).update(f"{name} {label}{last}")

    # --- changes: program events, checked and recorded by the source -------------------

    async def _append(self, events) -> None:
        try:
            await self.source.change(self.program.id, events)
        except ProgramError as exc:
            self.notify(str(exc), title="Not recorded", severity="warning", timeout=8)
            return
        self.notify("Recorded in the program's log.", timeout=4)
        self.reload()

    def action_settings(self) -> None:
        if not self.may_edit or self.program is None:
            return
        from facilitator.screens.program_form import ProgramForm

        def done(saved: str | None) -> None:
            if saved:
                self.notify("Settings recorded in the program's log.", timeout=4)
            # read again either way: a save refused because someone changed the program meanwhile
            # is answered by showing their change, and the next form starts from it
            self.reload()
        self.app.push_screen(ProgramForm(self.source, self.program), done)

    def action_enrol(self) -> None:
        if not self.may_edit or self.program is None:
            return
        today = self._today().isoformat()

        def done(text: str | None) -> None:
            parts = (text or "").split()
            if len(parts) < 2:
                if text:
                    self.notify("Give an id and a name, and a date if not today.", severity="warning")
                return
            date = parts[-1] if len(parts) > 2 and _is_date(parts[-1]) else today
            name = " ".join(parts[1:-1] if date == parts[-1] and len(parts) > 2 else parts[1:])
            pid = parts[0]
            if any(s.id == pid for s in self.program.staff):
                self.notify(f"{pid} is on the staff, not a member.", severity="warning")
                return
            old = self.program.members.get(pid)
            self.run_worker(self._append([MemberEnrolled(
                member=pid, name=name, enrolled=date, together=old.together if old else [],
                apart=old.apart if old else [])]))
        self.app.push_screen(PromptScreen("Enrol a member", "id name [first date, YYYY-MM-DD]",
                                          placeholder=f"p9 Jamie {today}", ok="Enrol"), done)

    def action_discharge(self) -> None:
        member = self._selected()
        if not self.may_edit or member is None:
            return
        m = self.program.members[member]

        def done(text: str | None) -> None:
            if not text:
                return
            if not _is_date(text) or text < m.enrolled:
                self.notify(f"A date on or after {m.enrolled}, as YYYY-MM-DD.", severity="warning")
                return
            self.run_worker(self._append([MemberDischarged(member=member, date=text)]))
        self.app.push_screen(PromptScreen(f"Discharge {m.name}", "Last date expected (YYYY-MM-DD)",
                                          value=self._today().isoformat(), ok="Discharge"), done)

    def action_rules(self) -> None:
        member = self._selected()
        if not self.may_edit or member is None:
            return
        m = self.program.members[member]
        current = f"with {','.join(m.together)}; apart {','.join(m.apart)}"

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                together, apart = _rules(text, set(self.program.members) - {member})
            except ValueError as exc:
                self.notify(str(exc), severity="warning")
                return
            self.run_worker(self._append([MemberEnrolled(
                member=member, name=m.name, enrolled=m.enrolled, together=together, apart=apart)]))
        self.app.push_screen(PromptScreen(f"Rules for {m.name}", "with ID,ID; apart ID,ID (member ids)",
                                          value=current, ok="Save", empty_ok=True), done)

    def action_links(self) -> None:
        if self.program is not None and self.may_issue:
            self.run_worker(self._links(), group="program-links", exclusive=True)

    async def _links(self) -> None:
        day = self.day or self._today()
        try:
            links = await self.source.links(self.program, day)
        except (LookupError, ProgramError) as exc:
            self.notify(str(exc), severity="warning")
            return
        lines = [f"{x['role']:<13} {x['name']:<12} {x.get('link') or x.get('token')}" for x in links]
        self.app.push_screen(LinksScreen(f"Join links: {store.room_id(self.program, day)}", lines))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        getattr(self, f"action_{event.button.id}")()

    def action_close(self) -> None:
        self.dismiss(None)


class LinksScreen(ModalScreen[None]):
    """Everyone's way in at once: members' page links, staff's console tokens."""
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, lines: list[str]):
        super().__init__()
        self.title_text, self.lines = title, lines

    def compose(self) -> ComposeResult:
        from textual.widgets import TextArea
        with Vertical(classes="dialog full") as v:
            v.border_title = self.title_text
            yield TextArea("\n".join(self.lines), read_only=True, id="links")
            yield Label("Select and copy; they are valid for 12 hours.", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _rules(text: str, others: set[str]) -> tuple[list[str], list[str]]:
    """'with p2,p3; apart p5' -> (['p2','p3'], ['p5']); only other members of the program."""
    together: list[str] = []
    apart: list[str] = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        word, _, ids = part.partition(" ")
        target = {"with": together, "apart": apart}.get(word)
        if target is None:
            raise ValueError(f"{part!r}: start with 'with' or 'apart'")
        for x in (i.strip() for i in ids.split(",")):
            if x and x not in others:
                raise ValueError(f"{x!r} is not another member of the program")
            if x:
                target.append(x)
    return together, apart
