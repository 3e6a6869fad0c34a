"""A room as the hub holds it: its decided and visible states, its connections, the
recent window it resumes from, and the answers it remembers for retried commands."""
from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import asyncio
import msgspec

from protocol import events as ev_mod
from protocol.commands import Command
from protocol.frames import EventFrame, encode
from protocol.state import RoomState
from server import engine
# the remembered ids' rules live in server/command_ids.py; the names below are what
# server/loading.py and server/sharing.py know them by
from server.command_ids import IDS_AFTER_RESTART, RESULTS_KEPT  # noqa: F401
from server.command_ids import as_retry as _as_retry, remember_refusal as _remember_refusal  # noqa: F401
from server.engine import Actor
from server.engine.views import for_participants
from server.outbox import Framed, framed
from server.record import Row, reading

RECENT_KEPT = 2000          # events per room kept in memory for resumes

_enc = msgspec.msgpack.Encoder()


class Sink(Protocol):
    """A connection as the hub sees it."""
    person: str
    role: str
    binary: bool

    def send(self, data: bytes | str) -> None: ...
    def close(self, code: int, reason: str) -> None: ...


class Recent(msgspec.Struct, gc=False):
    """A recorded event as the room keeps it for delivery and resume.

    Untracked by the cyclic collector (it can hold no cycle: data and bytes
    only): a room keeps thousands of these, and a server hundreds of rooms.
    Its frames are made on first send, one per (format, redaction), whole
    websocket frames (server/outbox.py's `Framed`): each connection only writes them."""
    seq: int
    at: float
    aud: str
    event: ev_mod.Event | None     # None until needed, for events a snapshot already covers
    bin_full: bytes | None = None
    bin_red: bytes | None = None
    txt_full: bytes | None = None
    txt_red: bytes | None = None
    body: bytes | None = None      # the recorded bytes, while `event` is not decoded yet

    def frame(self, binary: bool, redacted: bool) -> Framed:
        if binary:
            f = self.bin_red if redacted else self.bin_full
        else:
            f = self.txt_red if redacted else self.txt_full
        if f is None:
            ev = self.event
            if ev is None:
                ev = self.event = reading.decode(self.body)
                self.body = None
            ev = for_participants(ev) if redacted else ev
            f = framed(encode(EventFrame(seq=self.seq, at=self.at, aud=self.aud, ev=ev), binary))
            if binary:
                if redacted:
                    self.bin_red = f
                else:
                    self.bin_full = f
            elif redacted:
                self.txt_red = f
            else:
                self.txt_full = f
        return f


def _as_wire(cmd: Command) -> Command:
    """An in-process command (the console's own setup, scenario files) typed as if it
    had come over the wire: an int where the schema says float becomes a float, and
    the schema's limits are checked. Otherwise its events would hold `10` where the
    record, decoded, holds `10.0`: the live state and the fold of the log would differ."""
    return msgspec.msgpack.decode(_enc.encode(cmd), type=type(cmd))


class RoomHost:
    def __init__(self, room: str):
        self.id = room
        self.state: RoomState = engine.new_room(room)      # decided
        self.visible: RoomState = engine.new_room(room)    # committed and delivered
        self.conns: dict[str, Sink] = {}
        self.recent: collections.deque[Recent] = collections.deque(maxlen=RECENT_KEPT)
        self.results: collections.OrderedDict[tuple[str, str], object] = collections.OrderedDict()
        self.names: dict[tuple[str, str], str] = {}     # which command each remembered id was
        self.snap_seq = 0                                # the seq of the room's newest snapshot
        self.joining = 0                                 # hellos between `room()` and registering
        # who came or went while their arrival or departure could not be recorded:
        # person -> (actor, when); recorded once writing resumes (`Hub._reconcile`)
        self.unrecorded: dict[str, tuple[Actor, float]] = {}

    def remember(self, key, value) -> None:
        self.results[key] = value
        if len(self.results) > RESULTS_KEPT:
            old, _ = self.results.popitem(last=False)
            self.names.pop(old, None)


@dataclass(slots=True)
class Batch:
    host: RoomHost
    rows: list[Row]
    items: list[Recent]
    future: asyncio.Future
    after: Callable[[int], None] | None = None   # called with the last seq once delivered
