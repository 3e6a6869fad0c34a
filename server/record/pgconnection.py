"""Connections to PostgreSQL as the record and the leases hold them: bounded, and opened again.

A restart of PostgreSQL, or a failover to its standby, ends every connection; a
server that kept a dead one could never write again (every probe failed on it).
A database cut off mid-write sends nothing back, not even a reset, and without a
bound the write would wait for TCP to give up, a quarter of an hour, and every
room of the server with it (docs/deploy.md, "PostgreSQL").
"""
from __future__ import annotations

import urllib.parse

CONNECT_TIMEOUT_S = 5      # a database machine that is gone fails a write, not hangs it
# Unacknowledged data is given up on after this; an idle connection is probed (keepalives) as often.
UNANSWERED_MS = 10_000


def connect(url: str):
    """A connection to the record's database, autocommit, with the bounds above."""
    import psycopg
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                           tcp_user_timeout=UNANSWERED_MS, keepalives=1, keepalives_idle=5,
                           keepalives_interval=2, keepalives_count=3)


class Reconnecting:
    """A holder of one connection (`_db`, made by `_open`) that opens it again when the
    database dropped it. If the database is still away, the reconnection fails like any
    statement, and the next use tries again."""
    _db = None

    def _open(self):
        raise NotImplementedError

    @property
    def db(self):
        if self._db.closed:
            self._db = self._open()
        return self._db

    def _once_more(self, fn, *args):
        """`fn(*args)`, and once more on a new connection if the database had ended this
        one while it sat idle: PostgreSQL says so only when the connection is next used,
        so nothing of it ran. For reads, and for work that may run twice (the leases',
        the probe); never for a commit, whose outcome a lost connection leaves unknown."""
        import psycopg
        try:
            return fn(*args)
        except psycopg.OperationalError:
            if not self._db.closed:
                raise
            return fn(*args)

    def _execute(self, sql: str, args=None):
        """One statement outside a transaction (see `_once_more`)."""
        return self._once_more(lambda: self.db.execute(sql, args))


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def safe_url(url: str) -> str:
    """The URL without a password, for messages and logs."""
    u = urllib.parse.urlsplit(url)
    if u.password:
        netloc = f"{u.username}:***@{u.hostname}" + (f":{u.port}" if u.port else "")
        u = u._replace(netloc=netloc)
    return urllib.parse.urlunsplit(u)
