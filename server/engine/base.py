"""Shared vocabulary of the engine: who acts, what a decision emits, how it refuses.

The engine is pure: no clock, no I/O, no randomness. `now` and the ballot
sealing key arrive in the `Ctx`; the caller records and delivers what the
engine emits.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from protocol.events import Event
from protocol.roles import LEADS, STAFF_ROLES  # noqa: F401 - the engine's modules read them from here
from protocol.state import Member, RoomState



@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    role: str            # facilitator | cofacilitator | observer | participant | system
    name: str = ""


SYSTEM = Actor("system", "system", "")


@dataclass(frozen=True, slots=True)
class Ctx:
    now: float
    actor: Actor
    seal_key: bytes = b""

    def seal(self, poll_id: str) -> str:
        """A keyed hash of (poll, voter): equal for the same voter in the same poll,
        unlinkable to the voter by anyone who lacks the server's secret."""
        msg = f"{poll_id}\x00{self.actor.id}".encode()
        return hmac.new(self.seal_key, msg, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Emit:
    """An event the engine wants recorded, with who may receive it.

    Audiences: "all" (everyone admitted, and staff), "staff" (facilitators,
    co-facilitators, observers), "p:<id>" (that person and staff),
    "b:<round>:<n>" (breakout room n of that round, and staff), "b:<round>:*"
    (every breakout room of that round, and staff); records made before
    rounds had numbers say "b:<n>". Who hears which is judged in
    `server.engine.hearing`, by the seq at which it was recorded.
    """
    aud: str
    event: Event
    at: float | None = None   # set for events fired by a deadline


class Rejected(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def participant(state: RoomState, pid: str) -> Member:
    m = state.members.get(pid)
    if m is None or m.role != "participant":
        raise Rejected("not_found", f"no participant {pid!r} in this room")
    return m


def present_participants(state: RoomState) -> list[Member]:
    """Admitted and connected, in order of first admission."""
    ms = [m for m in state.members.values() if m.role == "participant" and m.status == "present"]
    ms.sort(key=lambda m: m.order)
    return ms


def occupying(state: RoomState) -> int:
    """Seats taken toward capacity: present, or dropped and still within the grace."""
    return sum(
        1 for m in state.members.values()
        if m.role == "participant" and (m.status == "present" or (m.status == "dropped" and not m.drop_overdue))
    )


def member_aud(m: Member, state: RoomState) -> str:
    """Where a participant's own speech goes: their breakout room while open, else everyone."""
    if state.breakouts == "open" and m.breakout is not None:
        return f"b:{state.round}:{m.breakout}"     # numbers come round again: the round makes it this room
    return "all"
