"""Room snapshots: a restart folds only what happened since the last one.

A snapshot is a room's state as the fold of its events up to some seq,
written in the same transaction as the event that brings the room to that
seq. It is a cache, never the truth: the events stay in the record, and a
snapshot is used only when

- it was sealed with this server's secret (an HMAC over the room, the seq,
  the fold's fingerprint and the bytes), so a hand-edited snapshot cannot
  change what a restarted room believes while the chain still verifies; and
- the fold that made it is the fold running now: the fingerprint is a hash
  of the engine's and the schema's source, so after an upgrade that changes
  how events fold, old snapshots are ignored and rooms are folded in full
  once (new snapshots follow).

`session-server verify` checks every snapshot against a fresh fold of the
record, so a snapshot can also be audited without the secret.
"""
from __future__ import annotations

import hashlib
import hmac
import os

import msgspec

from protocol.state import RoomState

# Events between a room's snapshots. A restart folds at most this many events a room after
# its snapshot: 500 took a 1,000-room restart to 2.1-2.2 s on a 2-core machine, 200 to
# 1.7-1.8 s (docs/performance.md, round 6). A seal costs 20-40 µs and rewrites one row
# of 10-30 KB per room, so about 0.2 µs and 100 bytes an event.
EVERY = 200

_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(RoomState)


def _fingerprint() -> bytes:
    import protocol
    import server.engine
    h = hashlib.sha256()
    for pkg, names in ((server.engine, None), (protocol, ("state.py", "events.py", "commands.py"))):
        d = os.path.dirname(pkg.__file__)
        for name in sorted(names or (n for n in os.listdir(d) if n.endswith(".py"))):
            with open(os.path.join(d, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.digest()[:16]


FINGERPRINT = _fingerprint()


class Sealer:
    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"room-snapshot\0" + secret).digest()

    def _mac(self, room: str, seq: int, fingerprint: bytes, body: bytes) -> bytes:
        msg = _enc.encode([room, seq, fingerprint, body])
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def seal(self, room: str, state: RoomState) -> tuple[str, int, bytes, bytes, bytes]:
        """(room, seq, fingerprint, body, mac): a row for the record's snapshot table."""
        body = _enc.encode(state)
        return room, state.seq, FINGERPRINT, body, self._mac(room, state.seq, FINGERPRINT, body)

    def open(self, room: str, seq: int, fingerprint: bytes, body: bytes, mac: bytes) -> RoomState | None:
        """The state, if the snapshot is ours, intact, and from the fold running now."""
        if fingerprint != FINGERPRINT:
            return None
        if not hmac.compare_digest(self._mac(room, seq, fingerprint, body), mac):
            return None
        try:
            state = _dec.decode(body)
        except msgspec.DecodeError:
            return None
        return state if state.seq == seq and state.room == room else None


def decode(body: bytes) -> RoomState:
    return _dec.decode(body)


def audit(record) -> tuple[int, int, list[str]]:
    """Checks each snapshot in a record against a fresh fold of its room's events.

    Returns (checked, skipped, problems): snapshots made by another version of
    the fold are skipped (a restart ignores them too); any other snapshot
    that is not exactly the fold of the log up to its seq is a problem."""
    from server.record import reading
    checked = skipped = 0
    problems = []
    for room, (seq, fingerprint, body, _mac) in sorted(record.snapshots().items()):
        if fingerprint != FINGERPRINT:
            skipped += 1
            continue
        checked += 1
        state = reading.fold(record, room, upto=seq).state    # from the first event: the snapshot is on trial
        if state.seq != seq:
            problems.append(f"the snapshot of room {room!r} names event {seq}, but its log ends at {state.seq}")
            continue
        try:
            same = canonical(decode(bytes(body))) == canonical(state)
        except (msgspec.DecodeError, msgspec.ValidationError):
            same = False
        if not same:
            problems.append(f"the snapshot of room {room!r} at event {seq} differs from the fold of its log")
    return checked, skipped, problems


def canonical(state: RoomState) -> bytes:
    """A state's bytes as the schema types them.

    Python does not check annotations, so a state can hold the int 10 where
    the schema says float (an agenda's minutes, given in-process), and encode
    it as an int; decoded, the same field is 10.0. Going once through the
    schema (encode, decode as RoomState, encode) makes equal states equal
    bytes whichever way they were built, so a clean record never fails the
    comparison and any real difference still does."""
    return _enc.encode(_dec.decode(_enc.encode(state)))
