"""One writer per record: an exclusive lock on a file beside it.

Two servers appending to one SQLite record would interleave two hash chains
and two ideas of every room's seq: the second one's first write fails (or,
worse, succeeds). So whoever opens a record to write takes an exclusive
`flock` on `<record>.lock` first, without waiting, and holds it until the
record is closed or the process ends (the kernel drops it even on SIGKILL,
so a crash never leaves a stale lock to clean up by hand).

It is a sidecar file, not SQLite's own locking, because SQLite's exclusive
mode would shut out the readers too, and `verify`, `export` and `replay`
must keep working beside a running server: they open the record read-only
and never touch this lock. The lock file is empty, private, and never
removed (removing it would let two processes lock two different files of
the same name).
"""
from __future__ import annotations

import errno
import fcntl
import os


class RecordLocked(Exception):
    """Another process is writing this record."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(f"{path}: a server already holds this record (its lock {lock_path(path)} is taken)")


def lock_path(path: str) -> str:
    # by the real path: a symlink or a relative name must not make a second lock
    return os.path.realpath(path) + ".lock"


class WriterLock:
    """Held from `acquire` until `release` (or until the process ends)."""

    def __init__(self, fd: int, path: str):
        self._fd: int | None = fd
        self.path = path

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)        # closing the descriptor releases the flock

    def __del__(self) -> None:
        self.release()


def acquire(path: str) -> WriterLock:
    """Takes the writer lock of the record at `path` or raises RecordLocked at once."""
    lp = lock_path(path)
    fd = os.open(lp, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RecordLocked(path) from None
        raise
    return WriterLock(fd, lp)
