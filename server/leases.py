"""One owner per room when several servers share a PostgreSQL record.

A server serves a room only while it holds the room's lease: a row in
`leases` with its owner, the owner's address and an expiry a few seconds
ahead, renewed every second. Each time the lease changes hands its epoch
grows, and every append checks, in its own transaction, that the writer still
holds each room's lease at the epoch it took (see `PostgresRecord.append`).
So a server that was paused or cut off past its expiry cannot add one row to
a room that another server has since taken: its commit fails, and it drops
the room.

When an owner dies its leases lapse within TTL seconds, and the next server
asked for the room takes it and folds it from the record. NOTIFY is not used:
the table decides, and a waiting server simply looks again.
"""
from __future__ import annotations

import threading
import uuid

from server.record.pgconnection import Reconnecting, connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    room    TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    address TEXT NOT NULL,
    epoch   BIGINT NOT NULL,
    expires TIMESTAMPTZ NOT NULL
);
"""

TTL = 2.0          # seconds a lease lasts unless renewed: the longest a dead owner holds a room
RENEW_EVERY = 0.5  # so three missed renewals still keep it


class Fenced(RuntimeError):
    """A write to a room whose lease this server no longer holds."""

    def __init__(self, rooms: list[str]):
        super().__init__(f"the lease of {len(rooms)} room(s) has passed to another server")
        self.rooms = rooms


class Leases(Reconnecting):
    def __init__(self, url: str, address: str, owner: str | None = None, ttl: float = TTL):
        self.url = url
        self.owner = owner or uuid.uuid4().hex
        self.address = address
        self.ttl = ttl
        self._db = self._open()
        self._lock = threading.Lock()
        self.held: dict[str, int] = {}      # room -> the epoch we took it at
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(724102)")
            self.db.execute(SCHEMA)

    def _open(self):
        return connect(self.url)     # opened again when the database dropped it (Reconnecting)

    def acquire(self, room: str) -> tuple[int | None, str | None, float]:
        """(epoch, None, 0) once ours; (None, holder's address, seconds left) if another holds it."""
        with self._lock:
            row = self._execute(
                "INSERT INTO leases VALUES (%s, %s, %s, 1, clock_timestamp() + make_interval(secs => %s)) "
                "ON CONFLICT (room) DO UPDATE SET owner = EXCLUDED.owner, address = EXCLUDED.address, "
                "epoch = leases.epoch + 1, expires = EXCLUDED.expires "
                "WHERE leases.expires < clock_timestamp() OR leases.owner = EXCLUDED.owner RETURNING epoch",
                (room, self.owner, self.address, self.ttl)).fetchone()
            if row is not None:
                self.held[room] = row[0]
                return row[0], None, 0.0
            other = self._execute(
                "SELECT address, EXTRACT(EPOCH FROM expires - clock_timestamp()) FROM leases WHERE room = %s",
                (room,)).fetchone()
            if other is None:        # released between the two statements: try again
                return None, None, 0.0
            return None, other[0], max(0.0, float(other[1]))

    def holder(self, room: str) -> str | None:
        """The address of the live server holding `room`, if another one does (no lease
        is taken: a page's voice follows the room, it does not move it)."""
        with self._lock:
            row = self._execute("SELECT address FROM leases WHERE room = %s AND owner <> %s "
                          "AND expires > clock_timestamp()", (room, self.owner)).fetchone()
        return row[0] if row else None

    def renew(self) -> list[str]:
        """Extends every lease still ours; returns the rooms lost (taken by another server).

        A lease that lapsed while this server was stalled (a busy machine, a slow
        database) but that nobody took since is still ours at the same epoch, so it is
        extended, not given up: no other server can have written to the room, because
        taking it would have raised the epoch. Appends in the gap were refused by the
        fence (which also checks the expiry) and are retried like any failed write."""
        with self._lock:
            if not self.held:
                return []
            rooms, epochs = list(self.held), [self.held[r] for r in self.held]
            kept = {r for (r,) in self._execute(
                "UPDATE leases l SET expires = clock_timestamp() + make_interval(secs => %s) "
                "FROM unnest(%s::text[], %s::bigint[]) AS f(room, epoch) "
                "WHERE l.room = f.room AND l.epoch = f.epoch AND l.owner = %s "
                "RETURNING l.room", (self.ttl, rooms, epochs, self.owner))}
            lost = [r for r in rooms if r not in kept]
            for r in lost:
                self.held.pop(r, None)
            return lost

    def extend(self, rooms: list[str]) -> bool:
        """Extends these rooms' leases now if every one is still ours at the epoch we took
        it (lapsed, perhaps, but taken by nobody); True if so. A room lost is left for
        `renew` to report, so that the hub lets it go."""
        with self._lock:
            if any(r not in self.held for r in rooms):
                return False
            kept = {r for (r,) in self._execute(
                "UPDATE leases l SET expires = clock_timestamp() + make_interval(secs => %s) "
                "FROM unnest(%s::text[], %s::bigint[]) AS f(room, epoch) "
                "WHERE l.room = f.room AND l.epoch = f.epoch AND l.owner = %s "
                "RETURNING l.room", (self.ttl, rooms, [self.held[r] for r in rooms], self.owner))}
            return kept == set(rooms)

    def release(self, room: str | None = None) -> None:
        """Gives a room (or every room) back at once, for a graceful stop."""
        with self._lock:
            rooms = [room] if room is not None else list(self.held)
            if rooms:
                self._execute("DELETE FROM leases WHERE room = ANY(%s) AND owner = %s", (rooms, self.owner))
            for r in rooms:
                self.held.pop(r, None)

    def fence(self) -> tuple[str, dict[str, int]]:
        """What an append checks: our owner id and the epochs we hold."""
        with self._lock:
            return self.owner, dict(self.held)

    def close(self) -> None:
        self._db.close()
