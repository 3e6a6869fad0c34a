"""Reads a record the way an auditor would: straight from the SQLite file.

Incremental (rows are read once, by id) so that checking after every one of
hundreds of kills does not reread the whole record each time.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys

from protocol.state import RoomState
from server import engine
from server.record import reading


class RecordView:
    def __init__(self, path: str):
        self.path = path
        self.last_id = 0
        self.events: dict[tuple[str, int], tuple] = {}    # (room, seq) -> (id, at, aud, type, body)
        self.by_cmd: dict[tuple[str, str, str], list[tuple]] = {}   # (room, actor, cmd) -> [(id, kind, seq)]
        self.rejected = 0
        self.rows = 0
        self.max_seq: dict[str, int] = {}
        self._folds: dict[str, RoomState] = {}

    def refresh(self) -> int:
        """Reads rows added since the last refresh; returns how many."""
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            cur = db.execute("SELECT id, room, seq, at, actor, kind, type, aud, cmd, body FROM log "
                             "WHERE id > ? ORDER BY id", (self.last_id,))
            n = 0
            for rid, room, seq, at, actor, kind, typ, aud, cmd, body in cur:
                n += 1
                self.last_id = rid
                if kind == "event":
                    self.events[(room, seq)] = (rid, at, aud, typ, bytes(body))
                    if seq > self.max_seq.get(room, 0):
                        self.max_seq[room] = seq
                else:
                    self.rejected += 1
                if cmd is not None:
                    self.by_cmd.setdefault((room, actor, cmd), []).append((rid, kind, seq))
            self.rows += n
            return n
        finally:
            db.close()

    def event(self, room: str, seq: int):
        return self.events.get((room, seq))

    def fold_to(self, room: str, seq: int) -> RoomState:
        """The room folded from the record up to `seq` (calls must not go backwards)."""
        st = self._folds.get(room)
        if st is None:
            st = self._folds[room] = engine.new_room(room)
        if seq < st.seq:
            raise ValueError(f"fold of {room} already at {st.seq}, asked for {seq}")
        return reading.fold_frames(st, self._frames(room, st.seq + 1, seq))

    def _frames(self, room: str, first: int, last: int):
        for s in range(first, last + 1):
            row = self.events.get((room, s))
            if row is None:
                raise KeyError(f"seq {s} of {room} is not in the record")
            yield reading.frame(s, row[1], row[2], row[4])


decode_event = reading.decode


def cli_verify(db: str) -> tuple[int, str]:
    """`session-server verify --db F`, as an operator runs it."""
    p = subprocess.run([sys.executable, "-m", "server.cli", "verify", "--db", db],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, (p.stdout + p.stderr).strip()
