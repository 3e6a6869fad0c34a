"""Which program session a local console opens: `--program ID`, or a pick from tonight's.

The embedded server holds the record's single-writer lock, so programs are read
through its hub (facilitator/program_source.py), never by opening the file again.
"""
from __future__ import annotations

import datetime as dt

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from protocol import commands as c
from protocol.frames import Error
from server.programs import open_session, tonight
from server.programs.store import zone


class PickSession(ModalScreen[int | None]):
    """Tonight's scheduled sessions, one line each, then the programs with none tonight, and "New program…"."""
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, lines: list[tuple[str, bool]], title: str = "Tonight's sessions"):
        super().__init__()
        self.lines, self.title_text = lines, title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as v:
            v.border_title = self.title_text
            yield OptionList(*[Option(text, id=str(i), disabled=not ok)
                               for i, (text, ok) in enumerate(self.lines)], id="sessions")
            yield Label("Enter opens it · Esc quits", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


NEW = "New program…"


def session_lines(choices) -> list[str]:
    # the start in the program's own zone: "Thu 18:00 CST", as the group knows it
    return [f"{p.title or p.id}  ·  {dt.datetime.fromtimestamp(s['start'], zone(p)).strftime('%a %H:%M %Z')}"
            f"  ·  {s['minutes']} min  ·  {s['room']}" for p, s in choices]


async def choose_session(app, server, program_id: str | None, who: tuple[str, str]):
    """(program, date, room, who) of the session to open, set up and opened on the server.

    With no program named, the pick lists tonight's sessions (Enter opens one), the programs
    with none tonight (Enter shows the program screen) and "New program…" (the form)."""
    from facilitator.program_source import HubPrograms
    source = HubPrograms(server.hub, f"console:{who[0]}", server.http_url)
    while True:
        found = [p for p, _t in await source.list()]
        if program_id is not None:
            found = [p for p in found if p.id == program_id]
            if not found:
                raise RuntimeError(f"the record has no program {program_id!r}")
        choices = [(p, s) for p in found for s in tonight(p)]
        if program_id is not None and not choices:
            p = found[0]
            raise RuntimeError(f"program {p.id!r} has no session today ({p.timezone})")
        if program_id is not None:
            break
        idle = [p for p in found if not any(q is p for q, _ in choices)]
        lines = [(t, True) for t in session_lines(choices)]
        lines += [(f"{p.title or p.id}  ·  no session today: its program screen", True) for p in idle]
        picked = await app.push_screen_wait(PickSession(lines + [(NEW, True)],
                                                        "Tonight's sessions" if choices else "Programs"))
        if picked is None:
            app.exit()
            raise RuntimeError("no session chosen")
        if picked < len(choices):
            choices = [choices[picked]]
            break
        from facilitator.screens.program import ProgramScreen
        from facilitator.screens.program_form import ProgramForm
        if picked < len(choices) + len(idle):
            await app.push_screen_wait(ProgramScreen(source, idle[picked - len(choices)].id, role="facilitator"))
        else:
            await app.push_screen_wait(ProgramForm(source, None, staff_hint=f"{who[0]} {who[1]} facilitator"))
    program, session = choices[0]
    day = dt.date.fromisoformat(session["date"])
    # the console acts as the program's facilitator, so the roster's staff entry is this console
    lead = next((s for s in program.staff if s.role == "facilitator"), None)
    if lead is not None:
        who = (lead.id, lead.name)
    room = session["room"]
    host = server.hub.room(room)
    if host.state.phase == "setup":       # a restarted console finds its room already running
        await open_session(server.hub, program, day, room)
        from facilitator.local import as_facilitator
        result = await as_facilitator(server, room, c.Open(), who)
        if isinstance(result, Error):
            raise RuntimeError(f"could not open {room}: {result.message}")
    return program, day, room, who
