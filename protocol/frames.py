"""Frames: what travels on the websocket.

Client to server: `hello` (once, first), `cmd`, `ping`, `ask` (staff: programs).
Server to client: `welcome`, `event`, `ack`, `error`, `pong`, `health` (staff only), `device`,
`answer` (to an `ask`).
Binary websocket frames carry MessagePack, text frames JSON; both use these
same schemas, so a browser and a terminal client read one contract.
"""
from __future__ import annotations

from typing import Annotated, Any, Union

import msgspec
from msgspec import Meta, Struct

from protocol.commands import AnyCommand
from protocol.events import AnyEvent
from protocol.programs import AnyProgramQuery
from protocol.state import ParticipantView, RoomState

PROTOCOL_VERSION = 1

ERROR_CODES = (
    "forbidden", "invalid", "not_found", "conflict", "full", "not_admitted", "closed",
    "rate_limited", "unauthorized", "version",
    "unavailable",   # the record cannot be written now: nothing was decided; the same id may be sent again
)


class Frame(Struct, tag_field="t", kw_only=True, gc=False):
    pass


# --- client to server --------------------------------------------------------

class Hello(Frame, kw_only=True, tag="hello", forbid_unknown_fields=True):
    token: str | None = None          # may instead come in the Authorization header
    protocol: int
    resume: int | None = None         # the last seq this client saw, to resume from
    # true: exchange this participant link token for a device credential (a
    # `device` frame follows the welcome). Browsers ask; terminal clients need not.
    device: bool = False


class Cmd(Frame, kw_only=True, tag="cmd", forbid_unknown_fields=True):
    id: Annotated[str, Meta(min_length=1, max_length=128)]   # client-made; a retried id is applied once
    cmd: AnyCommand


class Ping(Frame, kw_only=True, tag="ping", forbid_unknown_fields=True):
    id: int = 0


class Ask(Frame, kw_only=True, tag="ask", forbid_unknown_fields=True):
    """A staff question about programs (protocol/programs.py), answered by `answer` or `error`."""
    id: Annotated[str, Meta(min_length=1, max_length=128)]
    q: AnyProgramQuery


ClientFrame = Union[Hello, Cmd, Ping, Ask]


# --- server to client --------------------------------------------------------

class You(Struct, kw_only=True, gc=False):
    id: str
    name: str
    role: str


class Welcome(Frame, kw_only=True, tag="welcome"):
    protocol: int
    room: str
    you: You
    server_time: float
    seq: int                          # the room's position this welcome brings you to
    resumed: bool                     # true: missing events follow; false: `state` is fresh
    state: RoomState | ParticipantView | None = None


class EventFrame(Frame, kw_only=True, tag="event"):
    seq: int
    at: float
    aud: str                          # all | staff | p:<id> | b:<room>
    ev: AnyEvent


class Ack(Frame, kw_only=True, tag="ack"):
    id: str
    seq: int                          # the room's seq once the command's events were recorded
    duplicate: bool = False


class Error(Frame, kw_only=True, tag="error"):
    id: str | None = None             # the command id, when the error answers a command
    code: str
    message: str


class Pong(Frame, kw_only=True, tag="pong"):
    id: int = 0
    seq: int = 0
    server_time: float = 0.0


class Health(Frame, kw_only=True, tag="health"):
    """Staff only: whether the server can write the record. Sent to every staff
    connection when it changes, and after a staff welcome while it is not ok."""
    record: str                       # "ok" | "unavailable"
    since: float                      # server time of the change
    detail: str = ""                  # why, in a few words ("the disk is full")


class Device(Frame, kw_only=True, tag="device"):
    """A device credential: what this device says hello with from now on, instead of the link.

    Sent after the welcome of a hello that asked (`device: true`) and again,
    renewed, while the device stays connected."""
    credential: str
    expires: float                    # Unix seconds


class Answer(Frame, kw_only=True, tag="answer"):
    """The answer to an `ask`: plain data, shaped by the question (docs/protocol.md section 14)."""
    id: str
    data: Any = None


ServerFrame = Union[Welcome, EventFrame, Ack, Error, Pong, Health, Device, Answer]


# --- codecs --------------------------------------------------------------------
# One encoder/decoder pair per format, built once: msgspec compiles the schema.

_mp_client = msgspec.msgpack.Decoder(ClientFrame)
_js_client = msgspec.json.Decoder(ClientFrame)
_mp_server = msgspec.msgpack.Decoder(ServerFrame)
_js_server = msgspec.json.Decoder(ServerFrame)
_mp_enc = msgspec.msgpack.Encoder()
_js_enc = msgspec.json.Encoder()


def decode_client(data: bytes | str) -> Hello | Cmd | Ping | Ask:
    """Decodes a client frame; raises msgspec.ValidationError / DecodeError.

    Nesting deep enough to exhaust the decoder's recursion is malformed input
    like any other, not a crash."""
    try:
        if isinstance(data, str):
            return _js_client.decode(data)
        return _mp_client.decode(data)
    except RecursionError:
        raise msgspec.DecodeError("the frame is nested too deeply") from None


def decode_server(data: bytes | str) -> Welcome | EventFrame | Ack | Error | Pong | Health | Device | Answer:
    if isinstance(data, str):
        return _js_server.decode(data)
    return _mp_server.decode(data)


def encode(frame: Struct, binary: bool = True) -> bytes | str:
    if binary:
        return _mp_enc.encode(frame)
    return _js_enc.encode(frame).decode()
