"""A scenario's `program` and `date` keys: the session as its program sets it up.

The program is read from the record the scenario plays into (`--db`), as
`program import` left it, so a scenario rehearses exactly the roster the
record would give a real evening.
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3

from protocol import commands as c
from server.scenarios.script import ScriptError


class ProgramSession:
    def __init__(self, program, day: dt.date, start: float):
        self.program = program
        self.id = program.id
        self.date = day.isoformat()
        self.start = start
        from server.programs.store import room_id
        self.room = room_id(program, day)
        self.title, self.capacity, self.agreement = program.title, program.capacity, program.agreement
        self.agenda: list[c.AgendaItem] = list(program.agenda)
        self.survey = program.survey
        from server.programs.store import roster
        self.roster = roster(program, day)
        self._all = {s.id: s.role for s in program.staff}
        self._all.update({m: "participant" for m in program.members})

    def role_of(self, pid: str, default="participant"):
        return self._all.get(pid, default)

    def merge(self, people: dict, person_type) -> dict:
        """The program's roster, then anyone else the steps need. A person in both keeps the
        program's name and rules (and is expected only when enrolled on the date)."""
        merged = {}
        for r in self.roster:
            merged[r.id] = person_type(r.id, r.name, r.role, r.expected, list(r.together), list(r.apart))
        for pid, p in people.items():
            if pid in merged:
                continue
            m = self.program.members.get(pid)
            if m is not None:
                # a member not enrolled on this date (discharged, or not yet enrolled) who comes anyway
                merged[pid] = person_type(pid, m.name, "participant", False, [], [])
            else:
                merged[pid] = p
        return merged


def from_program(sess: dict, db: str | None, line_of) -> ProgramSession | None:
    if "program" not in sess:
        if "date" in sess:
            raise ScriptError(line_of("date"), "session.date needs session.program (the date picks "
                                               "the program's scheduled start)")
        return None
    pid = sess["program"]
    if not isinstance(pid, str) or not pid:
        raise ScriptError(line_of("program"), "session.program must be a program id")
    if "date" not in sess:
        raise ScriptError(line_of("program"), "session.program needs session.date (YYYY-MM-DD)")
    from server.programs.spec import ProgramError, parse_date
    try:
        day = parse_date(sess["date"], "session.date")
    except ProgramError as exc:
        raise ScriptError(line_of("date"), exc.message) from None
    from server.record import is_postgres, open_record
    if db is None or not (is_postgres(db) or os.path.exists(db)):
        raise ScriptError(line_of("program"), f"session.program {pid!r} needs --db: the record the "
                                              "program was imported into")
    from server.programs.store import load_program, scheduled_start
    from server.record.files import RecordFileError
    try:
        rec = open_record(db, readonly=True)
    except RecordFileError as exc:           # its message already names the file and what is wrong
        raise ScriptError(None, str(exc)) from None
    except (sqlite3.DatabaseError, RuntimeError) as exc:
        raise ScriptError(None, f"{db} is not a readable record: {exc}") from None
    try:
        program = load_program(rec, pid)
    except sqlite3.DatabaseError as exc:
        raise ScriptError(None, f"{db} is not a readable record: {exc}") from None
    finally:
        rec.close()
    if program is None:
        raise ScriptError(line_of("program"), f"the record {db} holds no program {pid!r} "
                                              "(session-server program import PROGRAM.toml --db ...)")
    start = scheduled_start(program, day)
    if start is None:
        days = ", ".join(s.weekday for s in program.schedule) or "no day"
        raise ScriptError(line_of("date"), f"program {pid!r} does not meet on {day.isoformat()} "
                                           f"(a {day.strftime('%A')}; it meets on {days})")
    return ProgramSession(program, day, start)
