"""Programs in the record: reading them, writing their changes, and the sessions they run.

Writes go through `Record.append`, so a program's events are rows of the same
hash chain as every session (the `verify` command covers them). Reads fold
them with `evolve_program`.
"""
from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo
from dataclasses import dataclass

import msgspec

from protocol import commands as c
from server.programs.model import (
    PROGRAM_PREFIX, MakeupRecorded, MemberDischarged, MemberEnrolled, Program, ProgramDefined,
    ProgramEvent, decode_event, encode_event, evolve_program, program_room,
)
from server.programs.spec import ProgramSpec, parse_hhmm
from server.record import Record, Row, reading



def program_ids(record: Record) -> list[str]:
    return [r[len(PROGRAM_PREFIX):] for r in record.program_rooms()]


def load_program(record: Record, program_id: str) -> Program | None:
    """The program as its events leave it, or None when the record has none."""
    p = Program(id=program_id)
    for _seq, _at, _aud, _typ, body in record.events(program_room(program_id)):
        evolve_program(p, decode_event(body))
    return p if p.defined else None


def programs(record: Record) -> list[Program]:
    return [p for p in (load_program(record, pid) for pid in program_ids(record)) if p is not None]


def append(record: Record, program: Program, events: list[ProgramEvent], actor: str = "cli",
           at: float | None = None) -> None:
    """Writes the events after the program's last one, in one transaction, and folds them in."""
    if not events:
        return
    at = time.time() if at is None else at
    room = program_room(program.id)
    rows = []
    seq = program.changes
    for ev in events:
        seq += 1
        rows.append(Row(room, seq, at, actor, "event", ev.__struct_config__.tag, "staff", None,
                        encode_event(ev)))
    record.append(rows)
    for ev in events:
        evolve_program(program, ev)


def import_events(current: Program | None, spec: ProgramSpec) -> list[ProgramEvent]:
    """What changed between the program in the record and the file: only that is recorded.

    A member missing from the file is left as recorded: past sessions expected
    them, and a member's enrolment ends with a discharge date, not an erasure."""
    out: list[ProgramEvent] = []
    d = spec.defined
    if current is None or not same_settings(current, d):
        out.append(d)
    for m in spec.members:
        old = current.members.get(m.id) if current else None
        enrol = MemberEnrolled(member=m.id, name=m.name, enrolled=m.enrolled, together=m.together,
                               apart=m.apart)
        if old is None or (old.name, old.enrolled, old.together, old.apart) != (
                m.name, m.enrolled, m.together, m.apart):
            out.append(enrol)
        kept = old.discharged if old is not None and not (old.discharged and m.enrolled > old.discharged) else None
        if m.discharged != kept:
            out.append(MemberDischarged(member=m.id, date=m.discharged or ""))
    return out


def same_settings(p: Program, d: ProgramDefined) -> bool:
    """Whether recording `d` would change nothing of p's settings (then it is not recorded)."""
    return msgspec.msgpack.encode(settings_of(p)) == msgspec.msgpack.encode(d)


def settings_of(p: Program) -> ProgramDefined:
    return ProgramDefined(id=p.id, title=p.title, timezone=p.timezone, capacity=p.capacity,
                          agreement=p.agreement, weekly_hours_target=p.weekly_hours_target,
                          agenda=list(p.agenda), schedule=list(p.schedule), staff=list(p.staff),
                          survey=p.survey)


def zone(p: Program) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(p.timezone)


def scheduled_start(p: Program, day: dt.date) -> float | None:
    """The instant the session of that date starts (its local start time in the program's zone)."""
    slot = p.slot_on(day)
    if slot is None:
        return None
    h, m = parse_hhmm(slot.start, "start")
    return dt.datetime(day.year, day.month, day.day, h, m, tzinfo=zone(p)).timestamp()


def room_id(p: Program, day: dt.date) -> str:
    """A scheduled session's room: the program's id and the date (program ids are kept short for it)."""
    return f"{p.id}-{day.isoformat()}"


def sessions_on(p: Program, day: dt.date) -> list[dict]:
    """The program's scheduled session on a date (a list: a schedule may grow to several a day)."""
    start = scheduled_start(p, day)
    if start is None:
        return []
    slot = p.slot_on(day)
    return [{"program": p.id, "date": day.isoformat(), "room": room_id(p, day),
             "start": start, "minutes": slot.minutes, "title": p.title}]


def tonight(p: Program, now: float | None = None) -> list[dict]:
    """Today's sessions, today being the local date in the program's zone."""
    now = time.time() if now is None else now
    return sessions_on(p, dt.datetime.fromtimestamp(now, zone(p)).date())


def roster(p: Program, day: dt.date) -> list[c.RosterEntry]:
    """Staff, then the members enrolled on that date, with the rules among those members."""
    out = [c.RosterEntry(id=s.id, name=s.name, role=s.role, expected=False) for s in p.staff]
    members = p.enrolled_on(day)
    here = {m.id for m in members}
    for m in members:
        out.append(c.RosterEntry(id=m.id, name=m.name, role="participant", expected=True,
                                 together=[x for x in m.together if x in here],
                                 apart=[x for x in m.apart if x in here]))
    return out


def configure(p: Program, day: dt.date, **overrides) -> c.Configure:
    """The session's configuration from its program; keyword arguments override the program's."""
    fields = dict(title=p.title, capacity=p.capacity, agreement=p.agreement, agenda=list(p.agenda),
                  roster=roster(p, day), program=p.id, date=day.isoformat(), survey=p.survey)
    fields.update(overrides)
    return c.Configure(**fields)


@dataclass
class Session:
    """A session room as the record holds it: its program and date, if any, and its times."""
    room: str
    program: str
    date: str
    title: str
    opened_at: float | None
    closed_at: float | None


def session_info(record: Record, room: str) -> Session | None:
    """Reads only what it needs: the room's configuration and its open and close."""
    program = date = title = ""
    opened = closed = None
    found = False
    for _seq, at, _aud, typ, body in record.events(room):
        found = True
        if typ == "room_configured":
            ev = reading.decode(body)
            program, date, title = ev.program, ev.date, ev.title
        elif typ == "session_opened" and opened is None:
            opened = at
        elif typ == "session_closed":
            closed = at
    return Session(room, program, date, title, opened, closed) if found else None


def sessions(record: Record, program_id: str | None = None) -> list[Session]:
    """Every session room (of one program, when given), by start then room."""
    out = [s for s in (session_info(record, r) for r in record.rooms()) if s is not None]
    if program_id is not None:
        out = [s for s in out if s.program == program_id]
    return sorted(out, key=lambda s: (s.opened_at is None, s.opened_at or 0.0, s.room))


def local_date(p: Program, s: Session) -> str:
    """A session's date: its program's date, else the local date of its opening in p's zone."""
    if s.program == p.id and s.date:
        return s.date
    if s.opened_at is not None:
        return dt.datetime.fromtimestamp(s.opened_at, zone(p)).date().isoformat()
    return s.date


def makeup(record: Record, p: Program, member: str, missed: str, made_up_in: str) -> MakeupRecorded:
    ev = MakeupRecorded(member=member, missed=missed, made_up_in=made_up_in)
    append(record, p, [ev])
    return ev


ROOM_DATE = re.compile(r"^(?P<program>.+)-(?P<date>\d{4}-\d{2}-\d{2})$")


def configure_for_room(record: Record, room: str) -> c.Configure | None:
    """The configuration of a room named PROGRAM-DATE after a program in the record, else None.

    This is how a live server sets up a program's session: the first person to
    connect to `iop-evening-2026-11-03` finds it configured from its program,
    with the members enrolled on that date as its roster."""
    m = ROOM_DATE.match(room)
    if m is None:
        return None
    try:
        day = dt.date.fromisoformat(m.group("date"))
    except ValueError:
        return None
    p = load_program(record, m.group("program"))
    if p is None:
        return None
    return configure(p, day)
