"""Programs: recurring groups with a schedule, staff and an enrolled roster, kept in the record.

The Python API a console (or any tool) builds on; every function reads or
writes the record, never a store of its own:

- `programs(record)`, `load_program(record, id)`: the programs, folded from their events
- `tonight(program, now)`, `sessions_on(program, date)`: scheduled sessions (room ids, local starts)
- `configure(program, date)`: the room's `Configure` command for that session
- `open_session(hub, program, date)`: configures a room on a running hub from its program
- `sessions(record, program_id)`: the sessions a record holds
- `program_data(record, program)`: the program as plain data (what `program show --json` prints)
- `join_links(secret, program, date, base_url)`: everyone's link or token for a session
- reports: `server.programs.reports`; documents: `server.programs.documents`, `server.programs.fhir`
"""
from __future__ import annotations

import datetime as dt

from server.programs.spec import ProgramError
from server.programs.model import Program, evolve_program, fold_program, program_room  # noqa: F401
from server.programs.store import (  # noqa: F401
    configure, load_program, programs, roster, scheduled_start, session_info, sessions, sessions_on, tonight,
)


def _room(program: Program, day: dt.date) -> str:
    found = sessions_on(program, day)
    if not found:
        raise LookupError(f"program {program.id!r} has no session on {day.isoformat()}")
    return found[0]["room"]


def program_data(record, program: Program) -> dict:
    """The program as plain data: `program show --json`, and what a console's program screen needs."""
    from server.programs.cli import program_data as _data
    return _data(record, program)


async def open_session(hub, program: Program, day: dt.date, room: str | None = None) -> str:
    """Sets a room up from its program (title, agenda, capacity, agreement, staff, the members
    expected that day, their rules) and returns its id; the facilitator then opens it."""
    room = room or _room(program, day)
    await hub.configure(room, configure(program, day))
    return room


def join_links(secret: bytes, program: Program, day: dt.date, base_url: str, room: str | None = None,
               ttl: float = 12 * 3600) -> list[dict]:
    """One entry per person on that day's roster: members get the page's invite link, staff a
    signed token for their console (role facilitator, cofacilitator or observer)."""
    import time

    from server import tokens
    from server.web.links import invite_link
    room = room or _room(program, day)
    out = []
    for r in roster(program, day):
        if r.role == "participant":
            out.append({"id": r.id, "name": r.name, "role": r.role,
                        "link": invite_link(secret, room, r.name, r.id, base_url, ttl)})
        else:
            claims = tokens.Claims(room=room, role=r.role, id=r.id, name=r.name, exp=time.time() + ttl)
            out.append({"id": r.id, "name": r.name, "role": r.role, "token": tokens.sign(secret, claims)})
    return out


class RecordNotNow(ProgramError):
    """The record could not be read or written just now (a full disk, a lost database): the
    change was not made, and the same one may be tried again."""
    code = "unavailable"


async def on_hub(hub, fn, *args):
    """Runs `fn(record, *args)` on a running hub's record, in the hub's own writer thread.

    The record has a single writer (a lock file): while a hub runs, it holds it, so a
    console embedding that hub changes programs through the hub's record. The writer
    thread is the one the hub appends room events in, so a program event and a room
    event are never written at once, and reads see every write before them. A record that
    fails is a `RecordNotNow` with the reason in a few words: a program screen or a remote
    console says so, and neither the console nor the connection goes down with it."""
    import asyncio
    import logging

    from server.health import cause, record_failure
    try:
        return await asyncio.get_running_loop().run_in_executor(hub._writer, fn, hub.record, *args)
    except Exception as exc:    # noqa: BLE001 - only the record's failures are translated; the rest is raised
        if not record_failure(exc):
            raise
        why = cause(exc)
        logging.getLogger("session_server.programs").warning("a program read or change failed: %s", why)
        raise RecordNotNow(f"the record cannot be used now ({why}); nothing was changed, try again") from None
