"""Reading a room from the record: its events between two seqs, and the room folded up to a seq or a moment.

Every reader of the record goes through here: a restart, a closed session folded on first use, the snapshot
audit, a reviewer's `replay --at`, the console's replay, the campaigns' auditors and the bench. So they all
decode the same bytes with the same decoder and fold them with the engine's one `evolve`, in seq order, and
what a reviewer sees at 0:42:00 is what the room was then. Only the record's interface is used (`events`,
`snapshot`), which both backends implement, so a reader never asks which one it has.

Events are decoded as they are reached: a fold that stops at a moment does not decode the evening after it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import msgspec

from protocol.events import AnyEvent
from protocol.frames import EventFrame
from protocol.state import RoomState
from server.engine import evolve, new_room

decode = msgspec.msgpack.Decoder(AnyEvent).decode


def frame(seq: int, at: float, aud: str, body: bytes) -> EventFrame:
    """One recorded event as the room's frame (raises msgspec's errors for bytes that are no event)."""
    return EventFrame(seq=seq, at=at, aud=aud, ev=decode(body))


def frames(record, room: str, after: int = 0, upto: int | None = None) -> Iterator[EventFrame]:
    """A room's events with `after` < seq <= `upto` (to the end without `upto`), in order, lazily."""
    for seq, at, aud, _type, body in record.events(room, after, None if upto is None else upto + 1):
        yield EventFrame(seq=seq, at=at, aud=aud, ev=decode(body))


def folding(state: RoomState, frames: Iterable[EventFrame]) -> Iterator[EventFrame]:
    """Folds each frame into `state`, in place, then yields it: the one fold loop, for a caller that
    keeps something of each event (a resume window, a checkpoint) as it goes."""
    for f in frames:
        evolve(state, f.ev, f.at, f.seq)
        yield f


def tail(record, room: str, state: RoomState, ids_after: int
         ) -> Iterator[tuple[int, EventFrame | None, str | None, str | None]]:
    """A restart's one read of a room's tail, from `ids_after` (at or before the state's seq):
    each event's seq; its frame, folded into `state`, if it comes after the state (None if the
    state covers it); and the actor and the command id behind it."""
    after = state.seq
    for seq, at, aud, body, actor, cmd in record.events_and_ids(room, ids_after):
        if seq > after:
            f = EventFrame(seq=seq, at=at, aud=aud, ev=decode(body))
            evolve(state, f.ev, at, seq)
            yield seq, f, actor, cmd
        else:
            yield seq, None, actor, cmd


def fold_frames(state: RoomState, frames: Iterable[EventFrame]) -> RoomState:
    """`state` with the frames folded into it."""
    for _f in folding(state, frames):
        pass
    return state


def from_snapshot(room: str, snap: tuple | None, sealer, upto: int | None = None) -> RoomState | None:
    """The state in a room's snapshot row (seq, fingerprint, body, mac), if `sealer` (server/snapshots.py)
    vouches for it (this server's seal, the fold running now) and it is not past `upto`."""
    if snap is None or sealer is None or (upto is not None and snap[0] > upto):
        return None
    return sealer.open(room, *snap)


@dataclass(slots=True)
class Folded:
    state: RoomState
    at: float | None                 # the instant it describes: the moment asked for, else its last event's
    frames: list[EventFrame] = field(default_factory=list)   # what was folded, with `keep`
    opened: float | None = None      # when the session opened, if it had by then


def fold(record, room: str, *, upto: int | None = None, until: float | None = None,
         after_open: float | None = None, start: RoomState | None = None, sealer=None,
         keep: bool = False) -> Folded:
    """The room folded up to seq `upto`, or up to the moment `until` (an instant), or `after_open` seconds
    after its session opened; to the end when none is given. A moment includes every event at it.

    `start` is a state to go on from (folded in place: an auditor that folds further and further); with
    `sealer`, the room's snapshot is started from instead when it is ahead of that and not past the point
    asked for, so a fold costs what happened since. A fold that checks a snapshot must not pass one. `keep`
    returns the frames folded (from the state started from)."""
    state = start if start is not None else new_room(room)
    snap = from_snapshot(room, record.snapshot(room), sealer, upto) if sealer is not None else None
    if snap is not None and snap.seq > state.seq:
        limit = _limit(until, after_open, snap.opened_at)
        if limit is None or snap.at <= limit:
            state = snap
    limit = _limit(until, after_open, state.opened_at)
    out = Folded(state, None)
    for f in frames(record, room, state.seq, upto):
        if limit is None and after_open is not None and state.opened_at is not None:
            limit = state.opened_at + after_open     # the moment is known once the session has opened
        if limit is not None and f.at > limit:
            break
        evolve(state, f.ev, f.at, f.seq)
        if keep:
            out.frames.append(f)
    out.at = limit if limit is not None else (state.at if state.seq else None)
    out.opened = state.opened_at
    return out


def _limit(until: float | None, after_open: float | None, opened: float | None) -> float | None:
    if until is not None:
        return until
    if after_open is not None and opened is not None:
        return opened + after_open
    return None
