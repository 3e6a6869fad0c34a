"""The record on PostgreSQL: the same interface as the SQLite record, for several servers.

psycopg 3's synchronous connection, because the record interface is
synchronous: the hub calls `append` in its writer thread and reads on the
event loop, exactly as with SQLite, so one hub serves both backends.

Durable before visible: every connection runs with `synchronous_commit = on`,
so `append` returns only once PostgreSQL has flushed the commit.

The chain is kept per room, not as one global chain, so that servers writing
different rooms never wait on each other's commits:
- each row carries SHA-256(the room's previous hash || this row's bytes), and
  its position `rid` in the room; `heads` keeps each room's newest (rid, hash),
  so a removed tail is caught as surely as a changed row;
- a room's first row also registers the room in `registry`, itself a chain
  (each entry hashes the previous entry and the room's name), whose head is in
  `meta`; so removing a whole room (its rows and its head) breaks the
  registry chain, and removing the newest room breaks the registry head.
`verify` walks both, and its `head` digests every room's head with the
registry's, to be kept elsewhere as with SQLite.

Order within a room comes from the unique (room, seq); a command id is unique
per room and actor through `commands`, in the same transaction as its events,
so a command retried against another server after a failover is refused by the
database itself rather than applied twice.
"""
from __future__ import annotations

import hashlib
from typing import Iterator

import msgspec

from server.record.pgconnection import Reconnecting, connect, first_line, safe_url
from server.record.sqlite import GENESIS, PROGRAM_PREFIX, Row, VerifyResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    gid   BIGSERIAL PRIMARY KEY,
    room  TEXT NOT NULL,
    rid   BIGINT NOT NULL,
    seq   BIGINT,
    at    DOUBLE PRECISION NOT NULL,
    actor TEXT,
    kind  TEXT NOT NULL,
    type  TEXT NOT NULL,
    aud   TEXT,
    cmd   TEXT,
    body  BYTEA NOT NULL,
    hash  BYTEA NOT NULL,
    UNIQUE (room, rid)
);
CREATE UNIQUE INDEX IF NOT EXISTS log_room_seq ON log(room, seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS log_closed ON log(room) WHERE type = 'session_closed';
CREATE TABLE IF NOT EXISTS heads (room TEXT PRIMARY KEY, rid BIGINT NOT NULL, hash BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS registry (n BIGINT PRIMARY KEY, room TEXT NOT NULL UNIQUE, hash BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
    room TEXT NOT NULL, actor TEXT NOT NULL, cmd TEXT NOT NULL, seq BIGINT NOT NULL,
    PRIMARY KEY (room, actor, cmd));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    room        TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    fingerprint BYTEA NOT NULL,
    body        BYTEA NOT NULL,
    mac         BYTEA NOT NULL
);
CREATE OR REPLACE FUNCTION record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the record is append-only'; END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'log_append_only') THEN
        CREATE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON log
            FOR EACH ROW EXECUTE FUNCTION record_append_only();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'registry_append_only') THEN
        CREATE TRIGGER registry_append_only BEFORE UPDATE OR DELETE ON registry
            FOR EACH ROW EXECUTE FUNCTION record_append_only();
    END IF;
END $$;
"""

_enc = msgspec.msgpack.Encoder()

# A batch in one statement. Data-modifying CTEs all run, in the same snapshot and
# transaction; a duplicate (room, seq), (room, rid) or command id fails the whole
# statement, and so the whole batch, exactly as one INSERT per row did.
_APPEND = """
WITH rows AS (
    INSERT INTO log (room, rid, seq, at, actor, kind, type, aud, cmd, body, hash)
    SELECT * FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::float8[], %b::text[], %b::text[],
                         %b::text[], %b::text[], %b::text[], %b::bytea[], %b::bytea[])
), cmds AS (
    INSERT INTO commands (room, actor, cmd, seq)
    SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[])
)
INSERT INTO heads (room, rid, hash)
SELECT * FROM unnest(%b::text[], %b::bigint[], %b::bytea[])
ON CONFLICT (room) DO UPDATE SET rid = EXCLUDED.rid, hash = EXCLUDED.hash
"""


def is_postgres(spec: str) -> bool:
    return spec.startswith(("postgresql://", "postgres://"))


def row_bytes(rid: int, r: Row) -> bytes:
    return _enc.encode([r.room, rid, r.seq, r.at, r.actor, r.kind, r.type, r.aud, r.cmd, r.body])


def registry_hash(prev: bytes, n: int, room: str) -> bytes:
    return hashlib.sha256(prev + _enc.encode([n, room])).digest()


class RecordUnavailable(RuntimeError):
    """The database cannot be reached or is not a record."""


class PostgresRecord(Reconnecting):
    shared = True      # several servers may write it: rooms are taken with leases (server/leases.py)

    def __init__(self, url: str, readonly: bool = False):
        import psycopg
        self.leases = None        # set by the hub: then every append is fenced by them
        self.path = url           # what the hub and the CLI call the record's location
        self.readonly = readonly
        self._committing = False
        try:
            self._db = self._open()
        except psycopg.Error as exc:
            raise RecordUnavailable(f"cannot reach the record at {safe_url(url)}: {first_line(exc)}") from None
        if readonly:
            if self.db.execute("SELECT to_regclass('log')").fetchone()[0] is None:
                raise RecordUnavailable(f"{safe_url(url)} holds no record")
        else:
            with self.db.transaction():
                # one schema creation at a time, when several servers start together
                self.db.execute("SELECT pg_advisory_xact_lock(724100)")
                self.db.execute(SCHEMA)

    def _open(self):
        # opened again when the database dropped it (server/record/pgconnection.py); a
        # commit under way when it was lost may or may not have happened: the hub
        # settles that (server/outage.py)
        db = connect(self.path)
        db.execute("SET synchronous_commit = on")
        if self.readonly:
            db.execute("SET default_transaction_read_only = on")
        return db

    def reader(self) -> "PostgresRecord":
        return PostgresRecord(self.path, readonly=True)

    # --- writing ------------------------------------------------------------------

    def append(self, rows: list[Row], snapshots: list[tuple] = ()) -> None:
        """Writes rows in one transaction; returns once PostgreSQL has committed them.

        A connection the database ended while it sat idle (a restart: PostgreSQL says so
        only when it is next used) fails before anything of the transaction is done:
        then the write is made once more on a new connection, and nobody sees the
        restart. A connection lost while committing is not retried: whether the commit
        happened is for the hub to find out (server/outage.py). A lease found lapsed
        (the database was away longer than a lease lasts) is extended first if it is
        still this server's at its epoch, as `Leases.renew` would a moment later."""
        import psycopg
        from server.leases import Fenced
        if not rows:
            return
        for last_try in (False, False, True):
            self._committing = False
            try:
                return self._append(rows, snapshots)
            except psycopg.OperationalError:
                if last_try or self._committing or not self._db.closed:
                    raise
            except Fenced as exc:
                # leases that lapsed while the database was away (nobody can take a room
                # meanwhile either): extended at their epoch, or the write is refused
                if last_try or self.leases is None or not self.leases.extend(exc.rooms):
                    raise

    def _append(self, rows: list[Row], snapshots: list[tuple]) -> None:
        rooms = sorted({r.room for r in rows})
        db = self.db
        with db.transaction():
            # the heads of the rooms written, locked in a fixed order (no deadlock
            # between two writers), so each room's chain has one writer at a time
            heads = {room: (rid, bytes(h)) for room, rid, h in db.execute(
                "SELECT room, rid, hash FROM heads WHERE room = ANY(%s) ORDER BY room FOR UPDATE", (rooms,))}
            if self.leases is not None:
                self._fence(db, rooms)
            new = [room for room in rooms if room not in heads]
            if new:
                self._register(new)
            cols: tuple[list, ...] = tuple([] for _ in range(11))
            cmds = {}
            for r in rows:
                rid, h = heads.get(r.room, (0, GENESIS))
                rid += 1
                h = hashlib.sha256(h + row_bytes(rid, r)).digest()
                heads[r.room] = (rid, h)
                for col, v in zip(cols, (r.room, rid, r.seq, r.at, r.actor, r.kind, r.type, r.aud, r.cmd,
                                         r.body, h)):
                    col.append(v)
                if r.kind == "event" and r.cmd is not None and r.actor is not None:
                    cmds.setdefault((r.room, r.actor, r.cmd), r.seq)
            # one statement for the whole batch, whatever its size: the rows, the
            # command ids and the heads, each as one INSERT over arrays (unnest), so
            # a batch costs a round trip and one plan, not one statement per row
            c_cols = [list(x) for x in zip(*((*k, seq) for k, seq in cmds.items()))] or [[], [], [], []]
            db.execute(_APPEND, (*cols, *c_cols, rooms, [heads[room][0] for room in rooms],
                                 [heads[room][1] for room in rooms]))
            if snapshots:
                with db.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO snapshots VALUES (%s,%s,%s,%s,%s) ON CONFLICT (room) DO UPDATE SET "
                        "seq = EXCLUDED.seq, fingerprint = EXCLUDED.fingerprint, body = EXCLUDED.body, "
                        "mac = EXCLUDED.mac", snapshots)
            self._committing = True     # from here a lost connection leaves the outcome unknown

    def _fence(self, db, rooms: list[str]) -> None:
        """Refuses the write unless this server holds each room's lease at the epoch
        it took it, now; the lease rows stay locked until the commit, so a
        takeover waits for this write rather than racing it. Pseudo-rooms (the
        gateway's refusals, programs) belong to no server."""
        from server.leases import Fenced
        owner, held = self.leases.fence()
        rooms = [r for r in rooms if not r.startswith("~")]
        if not rooms:
            return
        missing = [r for r in rooms if r not in held]
        if not missing:
            ok = {r for (r,) in db.execute(
                "SELECT l.room FROM leases l JOIN unnest(%s::text[], %s::bigint[]) AS f(room, epoch) "
                "ON l.room = f.room AND l.epoch = f.epoch "
                "WHERE l.owner = %s AND l.expires > clock_timestamp() FOR SHARE OF l",
                (rooms, [held[r] for r in rooms], owner))}
            missing = [r for r in rooms if r not in ok]
        if missing:
            raise Fenced(missing)

    def _register(self, rooms: list[str]) -> None:
        """Adds new rooms to the registry chain (inside append's transaction)."""
        db = self.db
        db.execute("SELECT pg_advisory_xact_lock(724101)")    # one registrar at a time
        head = db.execute("SELECT value FROM meta WHERE key = 'registry'").fetchone()
        n, h = msgspec.msgpack.decode(head[0]) if head else (0, GENESIS)
        known = {room for (room,) in db.execute("SELECT room FROM registry WHERE room = ANY(%s)", (rooms,))}
        for room in rooms:
            if room in known:      # registered by a writer whose head we could not see yet
                continue
            n += 1
            h = registry_hash(h, n, room)
            db.execute("INSERT INTO registry VALUES (%s,%s,%s)", (n, room, h))
        db.execute("INSERT INTO meta VALUES ('registry', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                   (_enc.encode([n, h]),))

    # --- reading ------------------------------------------------------------------

    def rooms(self) -> list[str]:
        """The session rooms; a program's own log (room `~program:ID`) is not a session."""
        return [r for (r,) in self._execute("SELECT room FROM registry ORDER BY room")
                if not r.startswith(PROGRAM_PREFIX)]

    def program_rooms(self) -> list[str]:
        return [r for (r,) in self._execute("SELECT room FROM registry WHERE starts_with(room, %s) ORDER BY room",
                                              (PROGRAM_PREFIX,))]

    def events(self, room: str, after: int = 0, before: int | None = None
               ) -> Iterator[tuple[int, float, str, str, bytes]]:
        if before is None:
            cur = self._execute("SELECT seq, at, aud, type, body FROM log WHERE room=%s AND seq > %s "
                                  "ORDER BY seq", (room, after))
        else:
            cur = self._execute("SELECT seq, at, aud, type, body FROM log WHERE room=%s AND seq > %s "
                                  "AND seq < %s ORDER BY seq", (room, after, before))
        for seq, at, aud, typ, body in cur:
            yield seq, at, aud, typ, bytes(body)

    def snapshots(self) -> dict[str, tuple[int, bytes, bytes, bytes]]:
        return {room: (seq, bytes(fp), bytes(body), bytes(mac)) for room, seq, fp, body, mac in
                self._execute("SELECT room, seq, fingerprint, body, mac FROM snapshots")}

    def snapshot(self, room: str) -> tuple[int, bytes, bytes, bytes] | None:
        """One room's snapshot (seq, fingerprint, body, mac), if it has one."""
        try:
            row = self._execute("SELECT seq, fingerprint, body, mac FROM snapshots WHERE room = %s", (room,)).fetchone()
        except Exception:        # noqa: BLE001 - a record from before snapshots
            return None
        return None if row is None else (row[0], bytes(row[1]), bytes(row[2]), bytes(row[3]))

    def last_seq(self, room: str) -> int:
        row = self._execute("SELECT MAX(seq) FROM log WHERE room = %s", (room,)).fetchone()
        return row[0] or 0

    def last_seqs(self, rooms: list[str]) -> dict[str, int]:
        """room -> its last seq, for these rooms, in one round trip."""
        return {room: last for room, last in self._execute(
            "SELECT room, MAX(seq) FROM log WHERE room = ANY(%s) AND seq IS NOT NULL GROUP BY room", (rooms,))}

    def open_rooms(self) -> dict[str, int]:
        closed = self.closed_rooms()
        cur = self._execute("SELECT room, MAX(seq) FROM log WHERE seq IS NOT NULL GROUP BY room")
        return {room: last for room, last in cur if room not in closed and not room.startswith(PROGRAM_PREFIX)}

    def events_and_ids(self, room: str, after: int) -> Iterator[tuple[int, float, str, bytes, str | None, str | None]]:
        cur = self._execute("SELECT seq, at, aud, body, actor, cmd FROM log WHERE room=%s AND seq > %s "
                              "ORDER BY seq", (room, after))
        for seq, at, aud, body, actor, cmd in cur:
            yield seq, at, aud, bytes(body), actor, cmd

    def command_ids(self, room: str, after: int) -> Iterator[tuple[str, str, int]]:
        yield from self._execute(
            "SELECT actor, cmd, seq FROM log WHERE room=%s AND seq > %s AND cmd IS NOT NULL ORDER BY seq",
            (room, after))

    def structure(self) -> str:
        """Nothing to add: PostgreSQL checks its own pages (data checksums), and the
        chain is walked by `verify`."""
        return ""

    def last_at(self) -> float | None:
        row = self._execute("SELECT at FROM log ORDER BY gid DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def probe(self, size: int = 64 * 1024) -> None:
        """Raises unless a write transaction commits now (see the SQLite record's probe):
        used to learn when writing may resume after a failed commit."""
        self._once_more(self._probe, size)

    def _probe(self, size: int) -> None:
        db = self.db
        with db.transaction():
            db.execute("INSERT INTO meta VALUES ('probe', %s) ON CONFLICT (key) DO UPDATE SET value = "
                       "EXCLUDED.value", (b"\x00" * size,))
            db.execute("DELETE FROM meta WHERE key = 'probe'")

    def closed_rooms(self) -> set[str]:
        return {r for (r,) in self._execute("SELECT room FROM log WHERE type = 'session_closed'")}

    def refusals(self, room: str | None = None) -> Iterator[tuple[str, str, str, str, bytes]]:
        q = "SELECT room, actor, cmd, type, body FROM log WHERE seq IS NULL AND cmd IS NOT NULL"
        cur = (self._execute(q + " ORDER BY gid") if room is None
               else self._execute(q + " AND room = %s ORDER BY gid", (room,)))
        for r, actor, cmd, typ, body in cur:
            yield r, actor, cmd, typ, bytes(body)

    def rows(self, room: str | None = None) -> Iterator[tuple]:
        """Every row with its position in its room's chain, for exports and audits."""
        q = "SELECT rid, room, seq, at, actor, kind, type, aud, cmd, body FROM log"
        cur = (self._execute(q + " ORDER BY gid") if room is None
               else self._execute(q + " WHERE room=%s ORDER BY rid", (room,)))
        for rid, rroom, seq, at, actor, kind, typ, aud, cmd, body in cur:
            yield rid, rroom, seq, at, actor, kind, typ, aud, cmd, bytes(body)

    def verify(self) -> VerifyResult:
        import psycopg
        try:
            # one snapshot for the whole walk: a server may be writing beside us, and
            # rows added between reading the heads and the log are not a tampering
            with self.db.transaction():
                self.db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return self._verify()
        except psycopg.Error as exc:
            return VerifyResult(False, 0, None, f"the database is damaged: {first_line(exc)}")

    def _verify(self) -> VerifyResult:
        db = self.db
        # the registry: a chain of every room ever written
        h, expected, registered = GENESIS, 0, []
        for n, room, stored in db.execute("SELECT n, room, hash FROM registry ORDER BY n"):
            expected += 1
            if n != expected:
                return VerifyResult(False, 0, None, f"the registry of rooms misses entry {expected} before {n}")
            h = registry_hash(h, n, room)
            if bytes(stored) != h:
                return VerifyResult(False, 0, None, f"the registry entry of room {room!r} does not match its hash")
            registered.append(room)
        head = db.execute("SELECT value FROM meta WHERE key = 'registry'").fetchone()
        if head is None:
            if registered:
                return VerifyResult(False, 0, None, "the registry head is missing")
        else:
            hn, hh = msgspec.msgpack.decode(bytes(head[0]))
            if hn != expected or hh != h:
                return VerifyResult(False, 0, None, f"the registry head names {hn} rooms but the registry "
                                    f"holds {expected}" if hn != expected else "the newest room does not match "
                                    "the registry head")
        stray = [r for (r,) in db.execute("SELECT DISTINCT room FROM log") if r not in set(registered)]
        if stray:
            return VerifyResult(False, 0, None, f"room {stray[0]!r} has rows but is not in the registry")
        heads = {room: (rid, bytes(hh)) for room, rid, hh in db.execute("SELECT room, rid, hash FROM heads")}
        total, digest = 0, hashlib.sha256(h)
        for room in registered:
            rh, rid = GENESIS, 0
            for rrid, seq, at, actor, kind, typ, aud, cmd, body, stored in db.execute(
                    "SELECT rid, seq, at, actor, kind, type, aud, cmd, body, hash FROM log WHERE room = %s "
                    "ORDER BY rid", (room,)):
                total += 1
                rid += 1
                if rrid != rid:
                    return VerifyResult(False, total, rrid, f"room {room!r}: row {rid} is missing before row {rrid}")
                r = Row(room, seq, at, actor, kind, typ, aud, cmd, bytes(body))
                rh = hashlib.sha256(rh + row_bytes(rid, r)).digest()
                if bytes(stored) != rh:
                    return VerifyResult(False, total, rid, f"room {room!r}: row {rid} does not match its hash")
            kept = heads.get(room)
            if kept is None:
                return VerifyResult(False, total, None, f"room {room!r}: its chain head is missing")
            if kept != (rid, rh):
                return VerifyResult(False, total, None,
                                    f"room {room!r}: the chain head names row {kept[0]} but the log ends at row {rid}"
                                    if kept[0] != rid else f"room {room!r}: the newest row does not match the chain head")
            digest.update(_enc.encode([room, rid, rh]))
        return VerifyResult(True, total, head=digest.hexdigest() if registered else "")

    def close(self) -> None:
        self._db.close()
