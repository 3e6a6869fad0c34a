"""A program's settings as a form: create a program, or edit one's schedule, zone, staff and rules.

Each field is checked by the program file's own checks (`server.programs.spec`), one message
under each bad field; the whole is then recorded through the screen's program source, which
checks it again as `program import` would (`server.programs.changes`) and writes it as the
program's `program_defined` event, audited and chained like the rest of the record.
"""
from __future__ import annotations

import re

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from facilitator.screens import steady_cursors
from protocol.roles import STAFF_ROLES
from server.programs import spec
from server.programs.model import Program
from server.programs.spec import ProgramError

# (field, label, placeholder): a field is a key of [program], or a piece of one (the schedule's)
FIELDS = [
    ("id", "Program id", "iop-evening (letters, digits, . _ -)"),
    ("title", "Title", "Evening IOP: relapse prevention"),
    ("timezone", "Time zone", "America/Chicago"),
    ("weekdays", "Weekdays", "mon tue thu"),
    ("start", "Starts at", "18:00"),
    ("minutes", "Minutes", "90"),
    ("capacity", "Capacity", "10 (1 to 15)"),
    ("hours", "Hours a week", "9 (each member's target, 0 for none)"),
    ("agreement", "Agreement", "What is shared here stays here."),
    ("agenda", "Agenda", "Check-in 15, Topic 45, Wrap-up 15"),
    ("staff", "Staff", "dana Dana facilitator, lee Lee cofacilitator"),
    ("survey", "Survey", "yes or no: the end-of-session satisfaction survey"),
]
KEY_OF = {"weekly_hours_target": "hours"}      # the file's key -> the form's field


def _number(text: str):
    """The text as a number when it reads as one; else as typed, for the check to name it."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def agenda_items(text: str) -> list[dict]:
    """'Check-in 15, Topic 45' -> [{title, minutes}, …]; ValueError names the item that is not."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        title, _, minutes = part.rpartition(" ")
        if not title or not isinstance(_number(minutes), (int, float)):
            raise ValueError(f"agenda: each item is a title and its minutes, as 'Check-in 15' (got {part!r})")
        out.append({"title": title.strip(), "minutes": _number(minutes)})
    return out


def staff_entries(text: str) -> list[dict]:
    """'dana Dana facilitator, lee Lee Ann cofacilitator' -> [{id, name, role}, …] (role optional)."""
    out = []
    for part in (p.split() for p in text.split(",")):
        if not part:
            continue
        role = part.pop() if len(part) > 1 and part[-1] in STAFF_ROLES else "facilitator"
        out.append({"id": part[0], "name": " ".join(part[1:]) or part[0], "role": role})
    return out


def values_of(p: Program) -> dict[str, str]:
    """The form's text for a program's settings."""
    first = p.schedule[0] if p.schedule else None
    return {"id": p.id, "title": p.title, "timezone": p.timezone,
            "weekdays": " ".join(s.weekday for s in p.schedule),
            "start": first.start if first else "", "minutes": str(first.minutes) if first else "",
            "capacity": str(p.capacity), "hours": f"{p.weekly_hours_target:g}", "agreement": p.agreement,
            "agenda": ", ".join(f"{a.title} {a.minutes:g}" for a in p.agenda),
            "staff": ", ".join(f"{s.id} {s.name} {s.role}" for s in p.staff),
            "survey": "yes" if p.survey else "no"}


def _yes_no(text: str):
    """yes/no as the file's true/false; anything else as typed, for the check to name it."""
    return {"yes": True, "y": True, "no": False, "n": False, "": False}.get(text.lower(), text)


def _words(message: str) -> str:
    """The file's message without the file's table: under its field, "program." says nothing."""
    return re.sub(r"^program\.(schedule entry \d+: )?", "", message)


def read(v: dict[str, str]) -> tuple[dict | None, dict[str, str]]:
    """The form's text as a program file's tables, or the message for each bad field."""
    errors: dict[str, str] = {}
    prog = {"id": v["id"], "title": v["title"], "timezone": v["timezone"], "capacity": _number(v["capacity"]),
            "agreement": v["agreement"], "weekly_hours_target": _number(v["hours"] or "0"),
            "survey": _yes_no(v.get("survey", ""))}
    try:
        prog["agenda"] = agenda_items(v["agenda"])
    except ValueError as exc:
        errors["agenda"] = str(exc)
    staff = staff_entries(v["staff"])
    for key, message in spec.field_errors(prog, staff).items():
        errors[KEY_OF.get(key, key)] = _words(message)
    days = v["weekdays"].replace(",", " ").lower().split()
    minutes = _number(v["minutes"])
    # each piece of the schedule alone, so that a bad day and a bad time each get their message
    for field, trial in (("weekdays", [{"weekday": d, "start": "00:00", "minutes": 1} for d in days]),
                         ("start", [{"weekday": "mon", "start": v["start"], "minutes": 1}] if days else []),
                         ("minutes", [{"weekday": "mon", "start": "00:00", "minutes": minutes}] if days else [])):
        try:
            spec.check_schedule(trial)
        except ProgramError as exc:
            errors[field] = _words(exc.message)
    if errors:
        return None, errors
    prog["schedule"] = [{"weekday": d, "start": v["start"], "minutes": minutes} for d in days]
    return {"program": prog, "staff": staff}, {}


class ProgramForm(ModalScreen[str | None]):
    """Dismissed with the program's id once recorded; None when cancelled."""
    DEFAULT_CSS = """
    ProgramForm #fields { height: 1fr; }
    ProgramForm .field { height: 1; }
    ProgramForm .field Label { width: 14; }
    ProgramForm .field Input { width: 1fr; }
    ProgramForm .error { color: $error; width: 100%; height: auto; padding-left: 14; display: none; }
    ProgramForm .error.-shown { display: block; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, source, program: Program | None = None, staff_hint: str = ""):
        super().__init__()
        self.source, self.program = source, program
        self.values = values_of(program) if program else {"capacity": "10", "hours": "9", "minutes": "90",
                                                          "start": "18:00", "staff": staff_hint}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = f"Program settings: {self.program.id}" if self.program else "New program"
            with VerticalScroll(id="fields", can_focus=False):
                for key, label, placeholder in FIELDS:
                    if key == "id" and self.program is not None:
                        continue        # a program's sessions are named after its id: it stays
                    with Horizontal(classes="field"):
                        yield Label(label)
                        yield Input(self.values.get(key, ""), placeholder=placeholder, id=f"f-{key}",
                                    compact=True)
                    yield Label("", id=f"err-{key}", classes="error")
            yield Label(self._note(), id="note", classes="hint")
            yield Label("", id="err-form", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save ^s", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        steady_cursors(self)
        self.query(Input).first().focus()

    def _note(self) -> str:
        p = self.program
        if p is not None and len({(s.start, s.minutes) for s in p.schedule}) > 1:
            return "Its days have different times: saving gives every day the time above."
        return "Members, their rules and discharges are on the program screen (e, r, d)."

    def _text(self) -> dict[str, str]:
        out = {key: (self.values.get(key, "") if key == "id" and self.program else "") for key, *_ in FIELDS}
        for key, *_ in FIELDS:
            found = self.query(f"#f-{key}")
            if found:
                out[key] = found.first(Input).value.strip()
        if self.program is not None:
            out["id"] = self.program.id
        return out

    def _show(self, errors: dict[str, str]) -> None:
        for key in [k for k, *_ in FIELDS] + ["form"]:
            found = self.query(f"#err-{key}")
            if found:
                label = found.first(Label)
                label.update(errors.get(key, ""))
                label.set_class(key in errors, "-shown")
        first = next((k for k, *_ in FIELDS if k in errors and self.query(f"#f-{k}")), None)
        if first:
            self.query_one(f"#f-{first}", Input).focus()

    def action_save(self) -> None:
        tables, errors = read(self._text())
        if tables is not None:
            try:
                defined = spec.parse(tables).defined       # what the fields allow together
            except ProgramError as exc:
                errors = {"form": _words(exc.message)}
        self._show(errors)
        if not errors:
            self._record(defined)

    @work(exclusive=True, group="program-form")
    async def _record(self, defined) -> None:
        try:
            # the settings as a whole replace the program's: only over the version this form showed
            await self.source.change(defined.id, [defined], create=self.program is None,
                                     based_on=None if self.program is None else self.program.changes)
        except ProgramError as exc:
            self._show({"form": _words(str(exc))})
            return
        self.dismiss(defined.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
