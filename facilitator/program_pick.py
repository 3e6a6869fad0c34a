"""Which program session a local console opens: `--program ID`, or a pick from tonight's.

The embedded server holds the record's single-writer lock, so programs are read
through its hub (`server.programs.on_hub`), never by opening the file again.
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
from server.programs import on_hub, open_session, programs, tonight
from server.programs.store import zone


class PickSession(ModalScreen[int | None]):
    """Tonight's scheduled sessions, one line each; a program with none tonight is shown, greyed."""
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, lines: list[tuple[str, bool]]):
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as v:
            v.border_title = "Tonight's sessions"
            yield OptionList(*[Option(text, id=str(i), disabled=not ok)
                               for i, (text, ok) in enumerate(self.lines)], id="sessions")
            yield Label("Enter opens the session · Esc quits", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


async def choose_session(app, server, program_id: str | None, who: tuple[str, str]):
    """(program, date, room, who) of the session to open, set up and opened on the server."""
    found = await on_hub(server.hub, programs)
    if program_id is not None:
        found = [p for p in found if p.id == program_id]
        if not found:
            raise RuntimeError(f"the record has no program {program_id!r}")
    choices = [(p, s) for p in found for s in tonight(p)]
    if program_id is not None and not choices:
        p = found[0]
        raise RuntimeError(f"program {p.id!r} has no session today ({p.timezone})")
    if program_id is None:
        # the start in the program's own zone: "Thu 18:00 CST", as the group knows it
        lines = [(f"{p.title or p.id}  ·  {dt.datetime.fromtimestamp(s['start'], zone(p)).strftime('%a %H:%M %Z')}"
                  f"  ·  {s['minutes']} min  ·  {s['room']}", True) for p, s in choices]
        lines += [(f"{p.title or p.id}  ·  no session today", False)
                  for p in found if not any(q is p for q, _ in choices)]
        picked = await app.push_screen_wait(PickSession(lines))
        if picked is None:
            app.exit()
            raise RuntimeError("no session chosen")
        choices = [choices[picked]]
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
