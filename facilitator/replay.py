"""A recorded session, replayed with the server's own fold.

The timeline is just an index into the room's events: the state at index i
is the fold of the first i events. Checkpoints every few hundred events keep
a step backwards or a jump as cheap as a step forwards.
"""
from __future__ import annotations

import bisect
import os

import msgspec

from protocol.events import SessionOpened
from protocol.frames import EventFrame
from protocol.state import RoomState
from server.engine import copy_state, new_room
from server.record import reading

CHECKPOINT_EVERY = 250


class ReplayError(Exception):
    pass


class Replay:
    def __init__(self, room: str, frames: list[EventFrame]):
        self.room = room
        self.frames = frames
        self.times = [f.at for f in frames]
        self._checkpoints: dict[int, RoomState] = {0: new_room(room)}
        s = new_room(room)
        for i, _f in enumerate(reading.folding(s, frames), start=1):
            if i % CHECKPOINT_EVERY == 0:
                self._checkpoints[i] = copy_state(s)
        self.index = 0
        self.state = new_room(room)
        self.origin = next((f.at for f in frames if isinstance(f.ev, SessionOpened)),
                           frames[0].at if frames else None)

    @classmethod
    def load(cls, path: str, room: str) -> "Replay":
        if not os.path.exists(path):
            raise ReplayError(f"no record at {path}")
        import sqlite3
        from server.record import Record, RecordFileError
        try:
            rec = Record(path, readonly=True)
        except RecordFileError as exc:      # names the file and what is wrong with it
            raise ReplayError(str(exc)) from None
        try:
            frames = list(reading.frames(rec, room))
            if not frames:
                rooms = rec.rooms()
                hint = f"; rooms in it: {', '.join(rooms[:8])}" if rooms else "; it holds no rooms"
                raise ReplayError(f"room {room!r} is not in {path}{hint}")
        except sqlite3.DatabaseError as exc:
            raise ReplayError(f"the record {path} is damaged: {exc}") from None
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ReplayError(f"the record {path} is damaged: an event cannot be read ({exc})") from None
        finally:
            rec.close()
        return cls(room, frames)

    @property
    def count(self) -> int:
        return len(self.frames)

    @property
    def start(self) -> float | None:
        """The zero of the timeline: the session's opening, else the first event."""
        return self.origin

    def seek(self, index: int) -> RoomState:
        """Moves to the state after `index` events; returns it (a fresh object when going back)."""
        index = max(0, min(self.count, index))
        if index < self.index or index - self.index > CHECKPOINT_EVERY:
            base = max(k for k in self._checkpoints if k <= index)
            self.state = copy_state(self._checkpoints[base])
            self.index = base
        if index > self.index:
            reading.fold_frames(self.state, self.frames[self.index:index])
            self.index = index
        return self.state

    def index_at(self, t: float) -> int:
        """How many events happened at or before instant t."""
        return bisect.bisect_right(self.times, t)

    @property
    def at(self) -> float | None:
        if self.index == 0:
            return self.frames[0].at if self.frames else None
        return self.frames[self.index - 1].at
