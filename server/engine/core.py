"""decide, evolve, and the deadlines that fire by themselves.

`decide(state, command, ctx)` returns the events a command causes or raises
`Rejected`; `evolve(state, event, at, seq)` folds one event into the state.
The server, every console's mirror and every replay use these same two
functions, so they cannot drift apart.

`evolve` updates the state in place and returns it: a fold owns its state,
and copying a room per event would cost more than the whole rest of the
fold. Take `copy_state` first when the old state must survive.
"""
from __future__ import annotations

import msgspec

from protocol import events as e
from protocol.commands import Command
from protocol.state import RoomState
from server.engine import admission, breakouts, conversation, polls, speaking, survey, timers, voice
from server.engine.base import Actor, Ctx, Emit, Rejected
from server.engine.permissions import BEFORE_OPEN, WHILE_WAITING, allowed

_DECIDERS = {}
_EVOLVERS = {}
for _mod in (admission, speaking, breakouts, polls, timers, conversation, voice, survey):
    _DECIDERS.update(_mod.DECIDERS)
    _EVOLVERS.update(_mod.EVOLVERS)

missing = set(e.EVENT_TYPES.values()) - set(_EVOLVERS)
assert not missing, f"events without a fold: {missing}"


def command_name(cmd: Command) -> str:
    return type(cmd).__struct_config__.tag


def decide(state: RoomState, cmd: Command, ctx: Ctx) -> list[Emit]:
    name = command_name(cmd)
    role = ctx.actor.role
    if not allowed(role, name):
        raise Rejected("forbidden", f"a {role} may not use {name}")
    if state.phase == "closed":
        raise Rejected("closed", "the session has ended")
    if state.phase == "setup" and name not in BEFORE_OPEN:
        raise Rejected("closed", "the session has not opened yet")
    if role == "participant":
        m = state.members.get(ctx.actor.id)
        if m is None or (m.status != "present" and name not in WHILE_WAITING):
            raise Rejected("not_admitted", "you are not admitted to the room")
    return _DECIDERS[type(cmd)](state, cmd, ctx)


def connect(state: RoomState, actor: Actor, now: float) -> list[Emit]:
    return admission.connect(state, actor, now)


def disconnect(state: RoomState, actor: Actor, now: float) -> list[Emit]:
    return admission.disconnect(state, actor, now)


def issue_device(state: RoomState, actor: Actor, device: str) -> list[Emit]:
    return admission.issue_device(state, actor, device)


def stop_drops(state: RoomState, at: float) -> list[Emit]:
    """A server stop is a drop, at the moment of the stop, for everyone connected (the
    contract's attendance rules): what each connection's end would have caused, had the
    server seen it. Without it a restart would find them still present: credited the
    downtime, their drop grace never started, their seats held.

    Everyone still present or waiting is taken as connected: while the server runs, a
    person is present only while connected. Each drop is decided against the room as the
    drops before it left it (a speaker's turn passing to someone who is also going)."""
    work = copy_state(state)
    out: list[Emit] = []
    for m in list(work.members.values()):
        if m.status not in ("present", "waiting") or (m.role != "participant" and m.status != "present"):
            continue
        for x in admission.disconnect(work, Actor(m.id, m.role, m.name), at):
            x = Emit(x.aud, x.event, at=at)
            evolve(work, x.event, at)
            out.append(x)
    return out


def evolve(state: RoomState, event: e.Event, at: float, seq: int | None = None) -> RoomState:
    if seq is not None:
        # first: the folds stamp who could hear what by the event's own seq
        state.seq = seq
    _EVOLVERS[type(event)](state, event, at)
    state.at = at
    return state


def new_room(room: str) -> RoomState:
    return RoomState(room=room)


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(RoomState)


def copy_state(state: RoomState) -> RoomState:
    return _dec.decode(_enc.encode(state))


# --- deadlines ---------------------------------------------------------------------

def _go_around_due(state: RoomState) -> float | None:
    return state.turn_ends if state.speaker is not None and state.turn_ends is not None else None


def _drops_due(state: RoomState) -> float | None:
    times = [m.drop_at + state.drop_grace for m in state.members.values()
             if m.status == "dropped" and m.role == "participant" and not m.drop_overdue and m.drop_at is not None]
    return min(times) if times else None


def due(state: RoomState) -> float | None:
    """The next instant at which the room changes by itself, if any."""
    if state.phase != "open":
        return None
    times = [t for t in (_go_around_due(state), _drops_due(state),
                         breakouts.due(state), timers.due(state)) if t is not None]
    return min(times) if times else None


def expire(state: RoomState) -> list[Emit]:
    """The events of the earliest deadline, each stamped with its own instant."""
    at = due(state)
    if at is None:
        return []
    eps = 1e-9
    if _go_around_due(state) is not None and state.turn_ends <= at + eps:
        if state.go_around is not None:
            return [Emit(x.aud, x.event, at=at) for x in speaking.advance_go_around(state, at)]
        return [Emit(x.aud, x.event, at=at) for x in speaking.end_current_turn(state, at)]
    drop = _drops_due(state)
    if drop is not None and drop <= at + eps:
        return [Emit("staff", e.DropOverdue(person=m.id), at=at) for m in state.members.values()
                if m.status == "dropped" and not m.drop_overdue and m.drop_at is not None
                and m.drop_at + state.drop_grace <= at + eps]
    b = breakouts.due(state)
    if b is not None and b <= at + eps:
        return breakouts.expire(state, at)
    return timers.expire(state, at)


__all__ = ["Actor", "Ctx", "Emit", "Rejected", "decide", "evolve", "connect", "disconnect",
           "due", "expire", "new_room", "copy_state", "command_name", "stop_drops"]
