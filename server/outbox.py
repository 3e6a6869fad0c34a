"""Frames for many connections, written once per connection per turn of the event loop.

Why: one commit's fan-out often sends several frames to the same connection
(the every-room poll: `poll_created` and `poll_opened` in one commit; an
admission's event and its fresh welcome; an answer and the events it caused).
Written one by one, each frame is a `send()` system call, and on loopback or a
busy machine each call can wake the reader and give away the CPU in the middle
of the fan-out. At 60 rooms with the bursts, a burst's commit sent 697 frames to
292 connections (p99 of commits; bench/trace.py): queued here, they go out as
292 writes, each connection's frames in order, as soon as the fan-out that
queued them ends (`loop.call_soon`), before the loop reads anything new.
The group commit flushes sooner, after each room's part of a commit
(server/group_commit.py): a room's frames still go out as one write per
connection, and the first rooms are on the wire while the rest are delivered.

Nothing is sent earlier than before: a frame is queued only where it would
have been written (after its commit, for events), so durable before visible
holds. Whatever else writes to a connection in order with these frames (its
close) flushes that connection first (`flush_one`).

Uses websockets' sans-I/O protocol as `websockets.broadcast` does: the frames
are serialized by `protocol.send_binary`/`send_text`, and what the protocol
has to send is joined into one `transport.write`. An event's frame is the same
bytes for everyone who hears it in one form (binary or text, redacted or not),
so it is serialized once, by websockets' own `Frame.serialize`, and kept with
the event (`Framed`, server/room_host.py's `Recent.frame`): for each connection
only the write is left. That is safe because the gateway negotiates no
extension (no compression): a server frame is then the same bytes on every
connection, and websockets' protocol keeps no count of the data frames sent.
"""
from __future__ import annotations

import asyncio
import logging

from websockets.frames import Frame, Opcode
from websockets.protocol import State

log = logging.getLogger("session_server.outbox")

_pending: dict = {}            # connection -> its frames, in order, for this turn of the loop
_scheduled: list = []          # the loop a flush is queued on, if any


class Framed(bytes):
    """A whole server frame, header and payload, ready for any connection's socket."""
    __slots__ = ()


def framed(data: bytes | str) -> Framed:
    """One frame serialized as websockets serializes an unmasked server frame."""
    if isinstance(data, str):
        f = Frame(Opcode.TEXT, data.encode())
    else:
        f = Frame(Opcode.BINARY, data)
    return Framed(f.serialize(mask=False))


def unframed(f: Framed) -> tuple[bool, bytes]:
    """(text?, payload) of a frame `framed` made: its header is 2, 4 or 10 bytes."""
    n = f[1] & 0x7F
    start = 2 if n < 126 else 4 if n == 126 else 10
    return f[0] & 0x0F == Opcode.TEXT.value, bytes(f[start:])


def send(ws, data: bytes | str) -> None:
    """Queues one frame for `ws`; it is written when the current callback returns."""
    frames = _pending.get(ws)
    if frames is not None:
        frames.append(data)
        return
    _pending[ws] = [data]
    if not _scheduled:
        loop = asyncio.get_running_loop()
        _scheduled.append(loop)
        loop.call_soon(flush)


def flush() -> None:
    """Writes everything queued: one write per connection."""
    _scheduled.clear()
    while _pending:
        ws, frames = _pending.popitem()
        _write(ws, frames)


def flush_one(ws) -> None:
    """Writes what is queued for one connection now (before its close frame)."""
    frames = _pending.pop(ws, None)
    if frames:
        _write(ws, frames)


def _write(ws, frames: list) -> None:
    if ws.protocol.state is not State.OPEN or ws.send_in_progress is not None:
        # as broadcast(): a connection closing gets nothing more, and a fragmented
        # message being sent is never interleaved (the server sends none)
        return
    t = ws.transport
    if t is None or t.is_closing():
        return
    p = ws.protocol
    try:
        out: list = []
        for data in frames:
            if type(data) is Framed:
                if not p.extensions:
                    out.append(data)
                    continue
                text, data = unframed(data)     # never, while the gateway offers no extension
                if text:
                    data = data.decode()
            if isinstance(data, str):
                p.send_text(data.encode())
            else:
                p.send_binary(data)
            out.extend(p.data_to_send())
        t.write(out[0] if len(out) == 1 else b"".join(out))
    except Exception as exc:   # noqa: BLE001 - as broadcast(): a failed write skips that connection
        log.warning("skipped frames: failed to write: %s", exc)
