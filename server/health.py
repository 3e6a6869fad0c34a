"""Whether the record can be written now, and how the hub finds out again.

The record is the truth: an event nobody could write must not be believed,
sent or acted on. So a failed commit is not the end of the server. The hub
fails the commands of that commit (and those decided on top of them) with
`unavailable`, puts their rooms back to what is recorded, and keeps serving
what is recorded (welcomes, resumes, pings, retried ids) while new writes are
refused at once. Meanwhile the committer probes the record with a small real
write transaction, with backoff, and once one commits, writing resumes.

This module holds the health itself: one log line per change (never one per
command), the staff frame that carries it, and a short reason with no names in
it (an SQLite message can carry a path; the log keeps only the kind of fault).
"""
from __future__ import annotations

import errno
import logging
import sqlite3

from protocol.frames import Health as HealthFrame
from server.record.sqlite import RecordDiverged

log = logging.getLogger("session_server.record")

BACKOFF_FIRST = 0.05     # seconds before the first probe after a failure
BACKOFF_MAX = 2.0        # the longest wait between probes: at most this long after room is made
# How long the record may be unwritable before /health tells a proxy to take this server out.
# A proxy that takes a server out closes its sessions (deploy/haproxy.cfg: what moves the rooms
# of a hung server), and with them every page's voice. A restart of the shared database fails
# every server's writes at once, and for a few seconds: those are ridden through, read-only,
# with nobody cut off. A server whose writes keep failing (cut off from the database alone)
# is taken out after this, and its rooms move to servers that can write them.
PROXY_GRACE_S = 10.0
STALLED_AFTER_S = 5.0    # a commit outstanding this long: the record is not answering


class Unavailable(Exception):
    """The record could not take this write (or is not taking writes now)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class RecordStalled(Exception):
    """A commit that has neither returned nor failed for a while (a stalled disk, a
    database that holds it): new writes are refused meanwhile, the commit is still
    waited for."""

    def __init__(self, seconds: float):
        super().__init__(f"no answer for {seconds:.0f} s")
        self.seconds = seconds


def cause(exc: BaseException) -> str:
    """A few words on why writing failed, for the log, the error and the console."""
    if isinstance(exc, RecordStalled):
        return f"the record has not answered a write for {exc.seconds:.0f} s"
    if isinstance(exc, RecordDiverged):
        return "the record holds rows this server did not write"
    text = str(exc).lower()
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""    # e.g. SQLITE_IOERR_WRITE (Python 3.11+)
        if name == "SQLITE_FULL" or "full" in text:
            return "the disk is full"
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
            return "another process is writing the record"
        if name.startswith("SQLITE_READONLY") or "readonly" in text:
            return "the record has become read-only"
        if name.startswith("SQLITE_IOERR"):
            return f"the disk failed a write ({name})"
        return f"the record could not be written ({name or type(exc).__name__})"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    return f"the record could not be written ({type(exc).__name__})"


def record_failure(exc: BaseException) -> bool:
    """Whether `exc` is a record that cannot be used now (SQLite's errors, the disk's, a lost
    database or lease, PostgreSQL's driver's, known by its module so that a server on SQLite
    never imports it), rather than a bug."""
    from server.leases import Fenced
    from server.record.postgres import RecordUnavailable
    return (isinstance(exc, (sqlite3.Error, OSError, RecordUnavailable, Fenced))
            or type(exc).__module__.split(".")[0] == "psycopg")


class Health:
    def __init__(self, clock):
        self.clock = clock
        self.ok = True
        self.since = clock.now()
        self.detail = ""
        self.outages = 0          # changes to unavailable since start
        self.refused = 0          # commands answered `unavailable` during the current outage
        self.failed_commits = 0

    def down(self, exc: BaseException) -> bool:
        """Notes a failed write; True if this is a change of health."""
        self.failed_commits += 1
        if not self.ok:
            return False
        self.ok, self.since, self.detail = False, self.clock.now(), cause(exc)
        self.outages += 1
        self.refused = 0
        log.error("the record cannot be written: %s; commands get 'unavailable' and writing is retried",
                  self.detail)
        return True

    def up(self) -> bool:
        """Notes a write that committed; True if this is a change of health."""
        if self.ok:
            return False
        was = self.clock.now() - self.since
        self.ok, self.since, self.detail = True, self.clock.now(), ""
        log.warning("the record is writable again after %.1f s; %d commands were answered 'unavailable'",
                    was, self.refused)
        return True

    def serving(self) -> bool:
        """What /health says to a proxy: writable, or not for long (PROXY_GRACE_S)."""
        return self.ok or self.clock.now() - self.since < PROXY_GRACE_S

    def error(self) -> Unavailable:
        return Unavailable(self.detail or "the record cannot be written now")

    def frame(self) -> HealthFrame:
        return HealthFrame(record="ok" if self.ok else "unavailable", since=self.since, detail=self.detail)
