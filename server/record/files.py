"""Is this file a record? Decided before anything is written to it.

The server used to open whatever `--db` named: another application's SQLite
file got our tables, triggers, WAL mode and mode 0600; random bytes or a
truncated copy gave a traceback. Now every command that opens a record asks
`check()` first, which only reads, and it answers with one of:

- "new": the path does not exist yet (or is an empty file): it may become a
  record, if the caller is allowed to create one;
- "record": an SQLite database marked as ours (`PRAGMA application_id`, set
  when a record is created) with the record's tables, or an older record of
  this project from before the mark (no mark, but the log with its columns,
  the meta table and the append-only triggers);
- or it raises `RecordFileError`, whose message names the file and says what
  is wrong with it in one line.

Nothing here opens the file for writing, creates a file beside it or changes
its mode, so a refused file is left byte for byte as it was.
"""
from __future__ import annotations

import os
import sqlite3
import stat

# "GrpR": a record of the group console. SQLite reads it as a signed 32-bit int.
APPLICATION_ID = 0x47727052
USER_VERSION = 1            # the record's layout, as created by this version

MAGIC = b"SQLite format 3\x00"
LOG_COLUMNS = ("id", "room", "seq", "at", "actor", "kind", "type", "aud", "cmd", "body", "hash")
LEGACY_TRIGGERS = {"log_no_update", "log_no_delete"}


class RecordFileError(sqlite3.DatabaseError):
    """A file that cannot be used as a record; the message names it.

    A DatabaseError, so that code which already said "this database cannot be
    read" for SQLite's own complaint says it for ours too."""


def check(path: str, create: bool) -> str:
    """Returns "new" or "record" for `path`, or raises RecordFileError.

    `create`: whether the caller would create a record here (serve, or a
    scenario replay writing one); the offline readers pass False."""
    if path == ":memory:":
        return "new"
    where = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise RecordFileError(f"the record {path} is a directory, not a file")
    if not os.path.exists(path):
        if not create:
            raise RecordFileError(f"no such record: {path}")
        if not os.path.isdir(where):
            raise RecordFileError(f"cannot create the record {path}: the folder {where} does not exist")
        _writable(path, where, new=True)
        return "new"
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise RecordFileError(f"the record {path} is not a regular file")
    wal = path + "-wal"
    wal_size = os.path.getsize(wal) if os.path.exists(wal) else 0
    if st.st_size == 0 and wal_size == 0:
        if not create:
            raise RecordFileError(f"the record {path} is empty: no record was ever written there")
        _writable(path, where, new=False)
        return "new"
    if st.st_size:
        _check_header(path, st.st_size, wal_size)
    _check_schema(path)
    if create:
        _writable(path, where, new=False)
    return "record"


def _writable(path: str, where: str, new: bool) -> None:
    """A server writes the file and, in WAL mode, two files beside it."""
    if _readonly_fs(where):
        raise RecordFileError(f"cannot write the record {path}: it is on a read-only file system")
    if not os.access(where, os.W_OK | os.X_OK):
        raise RecordFileError(f"cannot write the record {path}: its folder {where} is not writable")
    if not new and not os.access(path, os.R_OK | os.W_OK):
        raise RecordFileError(f"cannot write the record {path}: permission denied")


def _check_header(path: str, size: int, wal_size: int) -> None:
    """The first 100 bytes of an SQLite file say what it is and how long it should be."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise RecordFileError(f"cannot read the record {path}: {exc.strerror}") from None
    if len(head) < 100 or not head.startswith(MAGIC):
        raise RecordFileError(f"{path} is not a record: it is not an SQLite database "
                              "(another kind of file, or its first page is damaged)")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise RecordFileError(f"the record {path} is damaged: its first page gives an impossible page size")
    pages = int.from_bytes(head[28:32], "big")
    counted = head[24:28] == head[92:96] and pages > 0     # SQLite trusts the count only then
    if size % page:
        raise RecordFileError(f"the record {path} is truncated: {size} bytes is not a whole number "
                              f"of its {page}-byte pages")
    if counted and size < pages * page and not wal_size:
        raise RecordFileError(f"the record {path} is truncated: {size} bytes where its first page "
                              f"says {pages} pages of {page} bytes")


def readonly_uri(path: str, probe: bool = False) -> str:
    """The URI to read a record without writing anything, beside it included.

    Opening a WAL database read-only makes SQLite create its -wal and -shm
    files. With no -wal file, no writer is at work and everything is in the
    main file, so `immutable=1` reads it without them: always for the probe
    (a refused file must gain no neighbours), and on a read-only file system,
    where they cannot be made. Otherwise a reader shares the writer's -shm,
    which is how it reads beside a running server."""
    uri = "file:" + _uri_path(path) + "?mode=ro"
    if not os.path.exists(path + "-wal") and (probe or _readonly_fs(os.path.dirname(os.path.abspath(path)))):
        uri += "&immutable=1"
    return uri


def _readonly_fs(where: str) -> bool:
    try:
        return bool(os.statvfs(where).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _check_schema(path: str) -> None:
    uri = readonly_uri(path, probe=True)
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise RecordFileError(f"cannot open the record {path}: {exc}") from None
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        objects = {(t, n) for t, n in db.execute("SELECT type, name FROM sqlite_master")}
        tables = {n for t, n in objects if t == "table"}
        columns = tuple(r[1] for r in db.execute("PRAGMA table_info(log)")) if "log" in tables else ()
    except sqlite3.DatabaseError as exc:
        raise RecordFileError(f"the record {path} is damaged: {exc}") from None
    finally:
        db.close()
    ours = columns == LOG_COLUMNS and "meta" in tables
    if app_id == APPLICATION_ID:
        if not ours:
            raise RecordFileError(f"the record {path} is damaged: it is marked as a record, "
                                  "but its log or meta table is missing or altered")
        return
    triggers = {n for t, n in objects if t == "trigger"}
    if app_id == 0 and ours and LEGACY_TRIGGERS <= triggers:
        return      # a record from before the mark: it is stamped when a server next opens it
    what = ("another application's (it has a table named log, but not the record's)" if "log" in tables
            else "another application's" if tables or app_id else "an SQLite database with nothing in it")
    raise RecordFileError(f"{path} is not a record: it is {what}; refused, and nothing in it was changed")


def _uri_path(path: str) -> str:
    """The path as SQLite's URI syntax wants it: characters that mean something in a URI escaped."""
    from urllib.parse import quote
    return quote(os.path.abspath(path), safe="/")
