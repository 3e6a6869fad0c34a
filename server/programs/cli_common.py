"""What the program commands share: one precise line and an exit status for every failure."""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys

from server.programs import store
from server.programs.spec import ProgramError, check_id, parse_date

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Fail(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _postgres(path: str, readonly: bool):
    from server.record.postgres import PostgresRecord, RecordUnavailable
    try:
        return PostgresRecord(path, readonly=readonly)
    except RecordUnavailable as exc:
        raise _Fail(str(exc)) from None


def _read(path: str):
    from server.record import Record, is_postgres
    from server.record.files import RecordFileError
    if is_postgres(path):
        return _postgres(path, readonly=True)
    if not os.path.exists(path):
        raise _Fail(f"no such record: {path}")
    try:
        rec = Record(path, readonly=True)
        rec.rooms()
        return rec
    except RecordFileError as exc:           # its message already names the file and what is wrong
        raise _Fail(str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise _Fail(f"{path} is not a readable record: {exc}") from None


def _write(path: str, create: bool = False):
    from server.record import Record, is_postgres
    from server.record.lock import RecordLocked
    if is_postgres(path):
        # a program belongs to no server: its pseudo-room is never fenced by a lease
        return _postgres(path, readonly=False)
    if not create and not os.path.exists(path):
        raise _Fail(f"no such record: {path}")
    if os.path.isdir(path):
        raise _Fail(f"{path} is a directory, not a record")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise _Fail(f"no such directory for the record: {parent}")
    try:
        return Record(path)
    except sqlite3.DatabaseError as exc:
        raise _Fail(f"{path} is not a writable record: {exc}") from None
    except OSError as exc:
        raise _Fail(f"cannot open {path} for writing: {exc.strerror or exc}") from None
    except RecordLocked:        # one writer per record: the server running on it
        raise _Fail(f"cannot write {path}: a server is running on this record. Change the program from a "
                    "console connected to that server (its program screen, P), or stop the server first") from None
    except Exception as exc:    # noqa: BLE001 - any other refusal to open, in its own words
        raise _Fail(f"cannot write {path}: {exc}") from None


def _program(rec, pid: str):
    p = store.load_program(rec, pid)
    if p is None:
        known = ", ".join(store.program_ids(rec)) or "none"
        raise _Fail(f"the record holds no program {pid!r} (programs in it: {known})", EXIT_FAIL)
    return p


def _date(text: str, flag: str) -> dt.date:
    try:
        return parse_date(text, flag)
    except ProgramError as exc:
        raise _Fail(exc.message) from None


def _ids(text: str | None, flag: str) -> list[str]:
    if not text:
        return []
    out = [x.strip() for x in text.split(",") if x.strip()]
    for x in out:
        try:
            check_id(x, flag)
        except ProgramError as exc:
            raise _Fail(exc.message) from None
    return out


def check_makeup(rec, p, member: str, missed: str, into: str) -> None:
    """A make-up links a session the member missed to one they attended (any program's, or none)."""
    if member not in p.members:
        raise _Fail(f"program {p.id!r} has no member {member!r}", EXIT_FAIL)
    from server.programs.reports import held
    info = store.session_info(rec, missed)
    if info is None or info.program != p.id:
        raise _Fail(f"--missed {missed!r} is not a session of program {p.id!r} in the record", EXIT_FAIL)
    h = held(rec, missed, p)
    r = h.rows.get(member) if h else None
    if r is None or not r.expected or r.status not in ("absent", "excused"):
        raise _Fail(f"{member} did not miss {missed}: nothing to make up", EXIT_FAIL)
    if into == missed:
        raise _Fail("--in must be another session than --missed")
    h2 = held(rec, into, p)
    if h2 is None:
        raise _Fail(f"--in {into!r} is not a session that took place in the record", EXIT_FAIL)
    r2 = h2.rows.get(member)
    if r2 is None or r2.status in ("absent", "excused"):
        raise _Fail(f"{member} did not attend {into}, so it cannot make up {missed}", EXIT_FAIL)


def run(fn, *args) -> int:
    try:
        return fn(*args)
    except _Fail as exc:
        print(f"session-server: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:       # --out into a missing directory, a full disk
        print(f"session-server: cannot write {exc.filename or 'the output'}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_USAGE
