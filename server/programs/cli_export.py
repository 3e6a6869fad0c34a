"""`session-server export --program ...`, `export --list`, and `replay DIR` (a program's library)."""
from __future__ import annotations

import datetime as dt
import os
import re
import sys

from server.programs import store
from server.programs.cli_common import EXIT_FAIL, EXIT_OK, _Fail, _program, _read, _write, check_makeup
from server.programs.spec import ProgramError

FORMATS = ("absences", "hours", "followup", "note", "member", "fhir", "survey")


def add_export_arguments(x) -> None:
    x.add_argument("--program", help="a program's reports: " + ", ".join(FORMATS))
    x.add_argument("--member", help="one member (member; filters absences, hours, followup)")
    x.add_argument("--week", help="one ISO week, YYYY-Www (filters absences and hours)")
    x.add_argument("--list", action="store_true", help="list the sessions in the record, with dates and titles")


def _week(text: str | None) -> str | None:
    if text is None:
        return None
    m = re.fullmatch(r"(\d{4})-W(\d{2})", text)
    if m:
        try:
            dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            return text
        except ValueError:
            pass
    raise _Fail(f"--week {text!r} is not an ISO week such as 2026-W45")


def cmd_export(a, write) -> int:
    """The program exports and `export --list`; `write(text)` sends to --out or stdout."""
    if a.list:
        if a.format or a.program or a.room:
            raise _Fail("--list takes only --db (and --out)")
        rec = _read(a.db)
        write(_reports().sessions_csv(rec, {p.id: p for p in store.programs(rec)}))
        return EXIT_OK
    if not a.format:
        raise _Fail("export needs --format (or --list)")
    if a.format not in FORMATS:
        raise _Fail(f"--format {a.format} is for one room (--room), not a program")
    if not a.program:
        raise _Fail(f"--format {a.format} needs --program")
    week = _week(a.week)
    rec = _read(a.db)
    p = _program(rec, a.program)
    r = _reports()
    if a.format in ("note", "fhir"):
        if not a.room:
            raise _Fail(f"--format {a.format} needs --room (one session)")
        info = store.session_info(rec, a.room)
        if info is None:
            raise _Fail(f"the record holds no room {a.room!r}", EXIT_FAIL)
        if info.program and info.program != p.id:
            raise _Fail(f"room {a.room!r} is a session of program {info.program!r}, not {p.id!r}", EXIT_FAIL)
    if a.member and a.member not in p.members:
        raise _Fail(f"program {p.id!r} has no member {a.member!r}", EXIT_FAIL)
    try:
        if a.format == "absences":
            write(r.absences_csv(rec, p, a.member, week))
            for f in r.followups(rec, p):
                if not a.member or f.member == a.member:
                    # stderr, not a column: the contracted header stays as written; ids, never names
                    print(f"follow-up: {f.member} missed {len(f.missed)} sessions in a row "
                          f"({f.missed[0].date} to {f.missed[-1].date})", file=sys.stderr)
        elif a.format == "hours":
            write(r.hours_csv(rec, p, a.member, week))
        elif a.format == "followup":
            write(r.followups_csv(rec, p, a.member))
        elif a.format == "survey":
            from server.programs.surveys import survey_csv
            write(survey_csv(rec, p))
        elif a.format == "note":
            from server.programs.documents import group_note
            write(group_note(rec, p, a.room))
        elif a.format == "member":
            if not a.member:
                raise _Fail("--format member needs --member")
            from server.programs.documents import member_export
            write(member_export(rec, p, a.member))
        else:
            from server.programs.fhir import bundle_json
            write(bundle_json(rec, p, a.room))
    except LookupError as exc:
        raise _Fail(str(exc).strip("'\""), EXIT_FAIL) from None
    return EXIT_OK


def _reports():
    from server.programs import reports
    return reports


def cmd_replay_directory(a) -> int:
    """`replay DIR --db F`: a program's library, played in order against one record."""
    import tempfile

    from server.programs import library
    from server.scenarios.runner import run_scenario
    from server.scenarios.script import ScriptError
    if a.json:
        raise _Fail("--json is for one scenario file, not a directory")
    try:
        programs, sessions, makeups_file = library.files(a.scenario)
        if not sessions:
            raise _Fail(f"{a.scenario} holds no session scenarios")
        db = a.db or os.path.join(tempfile.mkdtemp(prefix="program-"), "record.db")
        rec = _write(db, create=True)
        try:
            for path in programs:
                print(f"{path}: program imported, {library.import_file(rec, path)} change(s) recorded")
        finally:
            rec.close()
        makeups = library.makeups(makeups_file) if makeups_file else []
    except ProgramError as exc:
        raise _Fail(str(exc)) from None
    failed = 0
    for path in sessions:
        try:
            result = run_scenario(path, db)
        except ScriptError as exc:
            raise _Fail(f"{path}: invalid scenario: {exc}") from None
        for f in result.failures:
            print(f"FAIL {path}: {f}")
        failed += len(result.failures)
        print(f"{path}: {'passed' if result.passed else 'FAILED'}: {result.steps} steps, {result.checks} checks")
    rec = _write(db)
    try:
        for mk in makeups:
            p = _program(rec, mk["program"])
            check_makeup(rec, p, mk["member"], mk["missed"], mk["in"])
            store.makeup(rec, p, mk["member"], mk["missed"], mk["in"])
            print(f"make-up: {mk['member']}: {mk['missed']} made up in {mk['in']}")
    finally:
        rec.close()
    print(f"{a.scenario}: {'passed' if not failed else 'FAILED'}: {len(sessions)} sessions"
          + (f"; record in {a.db}" if a.db else ""))
    return EXIT_OK if not failed else EXIT_FAIL
