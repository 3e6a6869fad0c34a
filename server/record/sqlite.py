"""The record on SQLite: WAL, synchronous=FULL, one row per event, a hash chain.

Every row keeps SHA-256(previous row's hash || this row's canonical bytes);
the newest hash is also kept in `meta`, so removing rows from the end is
caught as surely as changing one in the middle. Triggers refuse UPDATE and
DELETE on the log: corrections are new events, never edits.

Rows of anonymous ballots carry no actor and no command id, so that the
record cannot say who cast them.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from typing import Iterator

import msgspec

from server.record import files, lock

SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    id    INTEGER PRIMARY KEY,
    room  TEXT NOT NULL,
    seq   INTEGER,
    at    REAL NOT NULL,
    actor TEXT,
    kind  TEXT NOT NULL,
    type  TEXT NOT NULL,
    aud   TEXT,
    cmd   TEXT,
    body  BLOB NOT NULL,
    hash  BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS log_room_seq ON log(room, seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS log_room ON log(room, id);
CREATE INDEX IF NOT EXISTS log_closed ON log(room) WHERE type = 'session_closed';
-- the refused commands that carried an id, which a restart reads back: without it, a
-- scan of the whole log (0.1 s at a million rows)
CREATE INDEX IF NOT EXISTS log_refused ON log(id) WHERE seq IS NULL AND cmd IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
-- a cache beside the log, not part of it: see server/snapshots.py
CREATE TABLE IF NOT EXISTS snapshots (
    room        TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    fingerprint BLOB NOT NULL,
    body        BLOB NOT NULL,
    mac         BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log
    BEGIN SELECT RAISE(ABORT, 'the record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log
    BEGIN SELECT RAISE(ABORT, 'the record is append-only'); END;
"""

GENESIS = b"\x00" * 32


class RecordDiverged(Exception):
    """The file holds rows this writer did not put there: writing on would fork the chain."""

# rooms of this prefix hold a program's events (server/programs), not a session's
PROGRAM_PREFIX = "~program:"
_enc = msgspec.msgpack.Encoder()


@dataclass(slots=True)
class Row:
    room: str
    seq: int | None       # None for an audit row (a refused command)
    at: float
    actor: str | None
    kind: str             # "event" | "rejected"
    type: str
    aud: str | None
    cmd: str | None
    body: bytes


@dataclass(slots=True)
class VerifyResult:
    ok: bool
    rows: int
    bad_id: int | None = None
    problem: str = ""
    head: str = ""       # the newest row's hash, hex: keep it elsewhere to pin the record


def _row_bytes(rid: int, r: Row) -> bytes:
    return _enc.encode([rid, r.room, r.seq, r.at, r.actor, r.kind, r.type, r.aud, r.cmd, r.body])


def create_private(path: str) -> None:
    """Creates an empty file readable by its owner only, if it does not exist."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class Record:
    def __init__(self, path: str, readonly: bool = False):
        """Raises files.RecordFileError, naming the file, for anything that is not
        a record (or cannot become one), before a byte of it is changed."""
        self.path = path
        found = files.check(path, create=not readonly)
        if readonly:
            # reviewing must not be able to change, create or even checkpoint a record
            self.db = sqlite3.connect(files.readonly_uri(path), uri=True, check_same_thread=False,
                                      isolation_level=None)
            self._last_id, self._last_hash = 0, GENESIS
            self._lock = None
            return
        # first, before the file is created or changed: one writer per record
        self._lock = lock.acquire(path) if path != ":memory:" else None
        if path != ":memory:":
            create_private(path)    # only now: a refused file keeps its mode too
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        if found == "new" or self.db.execute("PRAGMA application_id").fetchone()[0] != files.APPLICATION_ID:
            # the mark that lets the next start tell this file from anyone else's
            # (an older record of ours is stamped the first time a server opens it)
            self.db.execute(f"PRAGMA application_id = {files.APPLICATION_ID}")
            self.db.execute(f"PRAGMA user_version = {files.USER_VERSION}")
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.chmod(path + suffix, 0o600)
        last = self.db.execute("SELECT id, hash FROM log ORDER BY id DESC LIMIT 1").fetchone()
        self._last_id, self._last_hash = (last[0], last[1]) if last else (0, GENESIS)

    def reader(self) -> "Record":
        """A read-only connection of its own, for reads beside the writer (WAL allows it)."""
        return self if self.path == ":memory:" else Record(self.path, readonly=True)

    def append(self, rows: list[Row], snapshots: list[tuple] = ()) -> None:
        """Writes rows in one transaction; returns once they are on disk.

        `snapshots` (room, seq, fingerprint, body, mac) go in the same
        transaction, so a snapshot never names a seq the log does not hold."""
        if not rows:
            return
        rid, h = self._last_id, self._last_hash
        values = []
        for r in rows:
            rid += 1
            h = hashlib.sha256(h + _row_bytes(rid, r)).digest()
            values.append((rid, r.room, r.seq, r.at, r.actor, r.kind, r.type, r.aud, r.cmd, r.body, h))
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO log VALUES (?,?,?,?,?,?,?,?,?,?,?)", values)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (_enc.encode([rid, h]),))
            if snapshots:
                db.executemany("INSERT OR REPLACE INTO snapshots VALUES (?,?,?,?,?)", snapshots)
            db.execute("COMMIT")
        except BaseException:
            # SQLite has often rolled back already (a full disk does): a second
            # ROLLBACK would raise and hide why the write failed
            if db.in_transaction:
                db.execute("ROLLBACK")
            if not self._committed_anyway(rid, h):
                raise
        self._last_id, self._last_hash = rid, h

    def _committed_anyway(self, rid: int, h: bytes) -> bool:
        """Whether a commit that reported an error is in the file all the same
        (an fsync error after the commit frame was written): then it counts as
        written, or the next batch would reuse its ids and seqs."""
        try:
            last = self.db.execute("SELECT id, hash FROM log ORDER BY id DESC LIMIT 1").fetchone()
        except sqlite3.Error:
            return False
        return last is not None and last[0] == rid and last[1] == h

    def probe(self, size: int = 64 * 1024) -> None:
        """Raises unless a write transaction of `size` bytes commits now.

        Leaves the log untouched (the row goes in and out of `meta` in one
        transaction), so it can be tried again and again while the disk is
        full, to learn when writing may resume. It also checks that the file
        still ends where this writer thinks it does."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('probe', randomblob(?))", (size,))
            db.execute("DELETE FROM meta WHERE key = 'probe'")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        last = db.execute("SELECT id FROM log ORDER BY id DESC LIMIT 1").fetchone()
        if (last[0] if last else 0) != self._last_id:
            raise RecordDiverged("the record's log does not end where this server wrote it last")

    # --- reading ------------------------------------------------------------------

    def rooms(self) -> list[str]:
        """The session rooms; a program's own log (room `~program:ID`) is not a session."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT room FROM log ORDER BY room")
                if not r[0].startswith(PROGRAM_PREFIX)]

    def program_rooms(self) -> list[str]:
        """The rooms that hold programs' events (see server/programs/model.py)."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT room FROM log WHERE substr(room, 1, ?) = ? "
                                              "ORDER BY room", (len(PROGRAM_PREFIX), PROGRAM_PREFIX))]

    def events(self, room: str, after: int = 0, before: int | None = None
               ) -> Iterator[tuple[int, float, str, str, bytes]]:
        """(seq, at, aud, type, body) of a room's events in order, after `after`
        (and before `before`, when given)."""
        if before is None:
            yield from self.db.execute(
                "SELECT seq, at, aud, type, body FROM log WHERE room=? AND seq > ? ORDER BY seq",
                (room, after))
        else:
            yield from self.db.execute(
                "SELECT seq, at, aud, type, body FROM log WHERE room=? AND seq > ? AND seq < ? ORDER BY seq",
                (room, after, before))

    def snapshots(self) -> dict[str, tuple[int, bytes, bytes, bytes]]:
        """room -> (seq, fingerprint, body, mac); empty for a record from before snapshots."""
        try:
            cur = self.db.execute("SELECT room, seq, fingerprint, body, mac FROM snapshots")
        except sqlite3.OperationalError:
            return {}
        return {room: (seq, fp, body, mac) for room, seq, fp, body, mac in cur}

    def snapshot(self, room: str) -> tuple[int, bytes, bytes, bytes] | None:
        """One room's snapshot (seq, fingerprint, body, mac), if it has one."""
        try:
            row = self.db.execute("SELECT seq, fingerprint, body, mac FROM snapshots WHERE room = ?", (room,)).fetchone()
        except Exception:        # noqa: BLE001 - a record from before snapshots
            return None
        return None if row is None else (row[0], bytes(row[1]), bytes(row[2]), bytes(row[3]))

    def last_seq(self, room: str) -> int:
        row = self.db.execute("SELECT MAX(seq) FROM log WHERE room = ?", (room,)).fetchone()
        return row[0] or 0

    def open_rooms(self) -> dict[str, int]:
        """room -> its last seq, for every room whose session has not closed."""
        closed = self.closed_rooms()
        # a program's log never closes, and is not a room the hub could load
        return {room: last for room, last in self._last_seqs()
                if room not in closed and not room.startswith(PROGRAM_PREFIX)}

    def _last_seqs(self) -> Iterator[tuple[str, int]]:
        """(room, last seq) of every room with an event, in room order, by stepping from
        room to room down the (room, seq) index: two index lookups a room, where a
        GROUP BY reads every row of the log (a quarter of a second at a million rows,
        the longest part of a restart's reads)."""
        yield from self.db.execute("""
            WITH RECURSIVE r(room) AS (
                SELECT (SELECT room FROM log WHERE seq IS NOT NULL ORDER BY room, seq LIMIT 1)
                UNION ALL
                SELECT (SELECT room FROM log WHERE seq IS NOT NULL AND room > r.room ORDER BY room, seq LIMIT 1)
                FROM r WHERE r.room IS NOT NULL)
            SELECT room, (SELECT seq FROM log WHERE seq IS NOT NULL AND room = r.room ORDER BY room DESC, seq DESC LIMIT 1)
            FROM r WHERE room IS NOT NULL""")

    def events_and_ids(self, room: str, after: int) -> Iterator[tuple[int, float, str, bytes, str | None, str | None]]:
        """(seq, at, aud, body, actor, command id) of a room's events after `after`, in order:
        a restart's one read of a room's tail, its events and the ids behind them."""
        yield from self.db.execute(
            "SELECT seq, at, aud, body, actor, cmd FROM log WHERE room=? AND seq > ? ORDER BY seq", (room, after))

    def command_ids(self, room: str, after: int) -> Iterator[tuple[str, str, int]]:
        """(actor, command id, seq) of the commands whose events come after `after`."""
        yield from self.db.execute(
            "SELECT actor, cmd, seq FROM log WHERE room=? AND seq > ? AND cmd IS NOT NULL ORDER BY seq",
            (room, after))

    def structure(self) -> str:
        """SQLite's own check of every page and index; empty when sound."""
        try:
            lines = [r[0] for r in self.db.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return "" if lines == ["ok"] else "; ".join(lines).replace("*** in database main ***\n", "").replace("\n", "; ")

    def last_at(self) -> float | None:
        """The instant of the newest row (rows are appended in time order, so the last id)."""
        row = self.db.execute("SELECT at FROM log ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def closed_rooms(self) -> set[str]:
        return {r for (r,) in self.db.execute("SELECT room FROM log WHERE type = 'session_closed'")}

    def refusals(self, room: str | None = None) -> Iterator[tuple[str, str, str, str, bytes]]:
        """(room, actor, cmd, type, body) of refused commands that carried an id."""
        if room is None:
            yield from self.db.execute(
                "SELECT room, actor, cmd, type, body FROM log WHERE seq IS NULL AND cmd IS NOT NULL ORDER BY id")
        else:
            yield from self.db.execute(
                "SELECT room, actor, cmd, type, body FROM log WHERE room = ? AND seq IS NULL AND cmd IS NOT NULL "
                "ORDER BY id", (room,))

    def rows(self, room: str | None = None) -> Iterator[tuple]:
        """Every row with its chain position, for exports and audits."""
        if room is None:
            yield from self.db.execute("SELECT id, room, seq, at, actor, kind, type, aud, cmd, body FROM log ORDER BY id")
        else:
            yield from self.db.execute(
                "SELECT id, room, seq, at, actor, kind, type, aud, cmd, body FROM log WHERE room=? ORDER BY id", (room,))

    def verify(self) -> VerifyResult:
        # one read transaction for the whole walk: in WAL it is one snapshot, so rows a
        # running server adds meanwhile are not mistaken for a changed head
        began = False
        try:
            if not self.db.in_transaction:
                self.db.execute("BEGIN")
                began = True
            return self._verify_rows()
        finally:
            if began:
                try:
                    self.db.execute("COMMIT")
                except sqlite3.DatabaseError:
                    pass        # a damaged file: what verify found is already in its answer

    def _verify_rows(self) -> VerifyResult:
        h = GENESIS
        expected_id = 0
        n = 0
        try:
            cur = self.db.execute(
                "SELECT id, room, seq, at, actor, kind, type, aud, cmd, body, hash FROM log ORDER BY id")
            for rid, room, seq, at, actor, kind, typ, aud, cmd, body, stored in cur:
                n += 1
                expected_id += 1
                if rid != expected_id:
                    return VerifyResult(False, n, rid, f"row {expected_id} is missing before row {rid}")
                r = Row(room, seq, at, actor, kind, typ, aud, cmd, bytes(body) if body is not None else b"")
                h = hashlib.sha256(h + _row_bytes(rid, r)).digest()
                if stored != h:
                    return VerifyResult(False, n, rid, f"row {rid} does not match its hash")
            head = self.db.execute("SELECT value FROM meta WHERE key='head'").fetchone()
        except sqlite3.DatabaseError as exc:
            return VerifyResult(False, n, expected_id or None, f"the database is damaged: {exc}")
        if head is None:
            if n:
                return VerifyResult(False, n, None, "the chain head is missing")
            return VerifyResult(True, 0)
        try:
            head_id, head_hash = msgspec.msgpack.decode(head[0])
        except Exception:
            return VerifyResult(False, n, None, "the chain head is damaged")
        if head_id != expected_id or head_hash != h:
            return VerifyResult(False, n, expected_id + 1 if head_id > expected_id else None,
                                f"the chain head names row {head_id} but the log ends at row {expected_id}"
                                if head_id != expected_id else "the newest row does not match the chain head")
        return VerifyResult(True, n, head=h.hex())

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
