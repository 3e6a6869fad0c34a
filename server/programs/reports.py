"""Reports across a program's sessions, each a fold over the record.

Attendance itself comes from `server.attendance` (the one place its rules
live); this module only gathers a program's sessions, puts their rows side by
side, and adds what spans sessions: make-ups, runs of absences, weekly hours.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from protocol.state import RoomState
from server.attendance import AttendanceRow, attendance_rows
from server.programs.model import Program
from server.programs.store import Session, local_date, sessions, zone
from server.record import Record
from server.review import fold_until

ABSENCES_HEADER = ["member_id", "name", "date", "room", "status", "reason", "made_up_in"]
HOURS_HEADER = ["member_id", "name", "week", "sessions_expected", "sessions_attended", "hours_attended",
                "target", "below_target"]
FOLLOWUP_HEADER = ["member_id", "name", "first_missed", "last_missed", "sessions_missed_in_a_row", "rooms"]
SESSIONS_HEADER = ["room", "program", "date", "start", "end", "title"]
MISSED = ("absent", "excused")


@dataclass
class Held:
    """One session as the program's reports see it: the folded room and its attendance rows."""
    session: Session
    date: str
    state: RoomState
    now: float
    rows: dict[str, AttendanceRow]

    @property
    def room(self) -> str:
        return self.session.room


def held(record: Record, room: str, p: Program) -> Held | None:
    """A session that opened (one that never did has no attendance to report)."""
    from server.programs.store import session_info
    info = session_info(record, room)
    if info is None or info.opened_at is None:
        return None
    state, now, _ = fold_until(record, room)
    return Held(info, local_date(p, info), state, now, {r.participant_id: r for r in attendance_rows(state, now)})


def program_sessions(record: Record, p: Program) -> list[Held]:
    """The program's held sessions in date order."""
    out = [h for h in (held(record, s.room, p) for s in sessions(record, p.id)) if h is not None]
    return sorted(out, key=lambda h: (h.date, h.session.opened_at or 0.0, h.room))


def makeup_sessions(record: Record, p: Program) -> dict[str, Held]:
    """Rooms named as a make-up (any program's, or none), by room."""
    out = {}
    for mk in p.makeups:
        if mk.made_up_in not in out:
            h = held(record, mk.made_up_in, p)
            if h is not None:
                out[mk.made_up_in] = h
    return out


def iso_week(date: str) -> str:
    y, w, _ = dt.date.fromisoformat(date).isocalendar()
    return f"{y}-W{w:02d}"


def _csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def absences(record: Record, p: Program, member: str | None = None, week: str | None = None,
             sessions_: list[Held] | None = None) -> list[list[str]]:
    """Every expected member who did not attend a held session, in date order."""
    out = []
    for h in sessions_ if sessions_ is not None else program_sessions(record, p):
        if week and iso_week(h.date) != week:
            continue
        for r in h.rows.values():
            if not r.expected or r.status not in MISSED or (member and r.participant_id != member):
                continue
            out.append([r.participant_id, r.name, h.date, h.room, r.status, r.reason,
                        p.made_up_in(r.participant_id, h.room)])
    return out


def absences_csv(record: Record, p: Program, member=None, week=None) -> str:
    return _csv(ABSENCES_HEADER, absences(record, p, member, week))


@dataclass
class Followup:
    member: str
    name: str
    missed: list[Held]


def followups(record: Record, p: Program, sessions_: list[Held] | None = None) -> list[Followup]:
    """Runs of two or more missed sessions in a row (absent or excused, made up or not), per member,
    counted over the program sessions where the member was expected."""
    runs: list[Followup] = []
    current: dict[str, list[Held]] = {}
    names: dict[str, str] = {}

    def end(mid):
        run = current.pop(mid, [])
        if len(run) >= 2:
            runs.append(Followup(mid, names[mid], run))

    for h in sessions_ if sessions_ is not None else program_sessions(record, p):
        for r in h.rows.values():
            if not r.expected:
                continue
            names[r.participant_id] = r.name
            if r.status in MISSED:
                current.setdefault(r.participant_id, []).append(h)
            else:
                end(r.participant_id)
    for mid in list(current):
        end(mid)
    return sorted(runs, key=lambda f: (f.missed[0].date, f.member))


def followups_csv(record: Record, p: Program, member=None) -> str:
    rows = [[f.member, f.name, f.missed[0].date, f.missed[-1].date, str(len(f.missed)),
             " ".join(h.room for h in f.missed)]
            for f in followups(record, p) if not member or f.member == member]
    return _csv(FOLLOWUP_HEADER, rows)


@dataclass
class Week:
    member: str
    name: str
    week: str
    expected: int = 0
    attended: int = 0
    minutes: float = 0.0


def attended(r: AttendanceRow | None) -> bool:
    # a removed member was there until the removal: their minutes count, as the rows give them
    return r is not None and r.status not in MISSED


def hours(record: Record, p: Program, member: str | None = None, week: str | None = None) -> list[Week]:
    """Weekly (Monday to Sunday, ISO weeks) sessions and hours per member, program sessions and
    the member's recorded make-ups together; one row per member and week with a session for them."""
    weeks: dict[tuple[str, str], Week] = {}
    counted: set[tuple[str, str]] = set()      # (member, room): a session counts once

    def add(mid, name, h: Held, expected: bool):
        w = weeks.setdefault((mid, iso_week(h.date)), Week(mid, name, iso_week(h.date)))
        if expected:
            w.expected += 1
        r = h.rows.get(mid)
        if attended(r) and (mid, h.room) not in counted:
            counted.add((mid, h.room))
            w.attended += 1
            w.minutes += r.minutes_present

    for h in program_sessions(record, p):
        for r in h.rows.values():
            # a guest who is no member of the program has no weekly hours in it
            if r.participant_id in p.members and (r.expected or attended(r)):
                add(r.participant_id, p.members[r.participant_id].name, h, r.expected)
    extra = makeup_sessions(record, p)
    for mk in p.makeups:
        h = extra.get(mk.made_up_in)
        if h is not None and mk.member in h.rows and (mk.member, h.room) not in counted:
            name = p.members[mk.member].name if mk.member in p.members else h.rows[mk.member].name
            add(mk.member, name, h, False)
    out = sorted(weeks.values(), key=lambda w: (w.week, w.member))
    return [w for w in out if (not member or w.member == member) and (not week or w.week == week)]


def hours_csv(record: Record, p: Program, member=None, week=None) -> str:
    target = p.weekly_hours_target
    rows = [[w.member, w.name, w.week, str(w.expected), str(w.attended), f"{w.minutes / 60:.2f}",
             f"{target:g}", "true" if w.minutes / 60 < target - 1e-9 else "false"]
            for w in hours(record, p, member, week)]
    return _csv(HOURS_HEADER, rows)


def local(t: float | None, tz) -> str:
    """An instant as local time with its offset (2026-11-03T18:04:10-06:00)."""
    if t is None:
        return ""
    return dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


def sessions_csv(record: Record, programs: dict[str, Program]) -> str:
    """Every session in a record with its date and title; times are local to its program, else UTC."""
    rows = []
    for s in sessions(record):
        p = programs.get(s.program)
        tz = zone(p) if p else dt.timezone.utc
        date = s.date or (dt.datetime.fromtimestamp(s.opened_at, tz).date().isoformat() if s.opened_at else "")
        rows.append([s.room, s.program, date, local(s.opened_at, tz), local(s.closed_at, tz), s.title])
    rows.sort(key=lambda r: (r[2], r[3], r[0]))
    return _csv(SESSIONS_HEADER, rows)
