"""Named timers and the agenda.

A timer's expiry is an event stamped with its deadline, not with whenever the
server got round to it, so a replay fires it at the same instant. Clients
draw countdowns from `ends_at`; nothing is broadcast per second.
"""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.state import RoomState, Timer
from server.engine.base import Ctx, Emit, Rejected

WARNING_BEFORE = 60.0


def _timer(state: RoomState, tid: str) -> Timer:
    t = state.timers.get(tid)
    if t is None:
        raise Rejected("not_found", f"no timer {tid!r}")
    return t


def start(state: RoomState, cmd: c.TimerStart, ctx: Ctx) -> list[Emit]:
    if (cmd.seconds is None) == (cmd.minutes is None):
        raise Rejected("invalid", "give either seconds or minutes")
    t = state.timers.get(cmd.id)
    if t is not None and t.state in ("running", "paused"):
        raise Rejected("conflict", f"timer {cmd.id!r} is already {t.state}")
    seconds = float(cmd.seconds if cmd.seconds is not None else cmd.minutes * 60)
    return [Emit("all", e.TimerStarted(id=cmd.id, label=cmd.label, seconds=seconds, ends_at=ctx.now + seconds))]


def pause(state: RoomState, cmd: c.TimerPause, ctx: Ctx) -> list[Emit]:
    t = _timer(state, cmd.id)
    if t.state != "running":
        raise Rejected("conflict", f"timer {t.id!r} is {t.state}")
    return [Emit("all", e.TimerPaused(id=t.id, remaining=max(0.0, t.ends_at - ctx.now)))]


def resume(state: RoomState, cmd: c.TimerResume, ctx: Ctx) -> list[Emit]:
    t = _timer(state, cmd.id)
    if t.state != "paused":
        raise Rejected("conflict", f"timer {t.id!r} is {t.state}")
    return [Emit("all", e.TimerResumed(id=t.id, ends_at=ctx.now + t.remaining))]


def cancel(state: RoomState, cmd: c.TimerCancel, ctx: Ctx) -> list[Emit]:
    t = _timer(state, cmd.id)
    if t.state not in ("running", "paused"):
        raise Rejected("conflict", f"timer {t.id!r} is {t.state}")
    return [Emit("all", e.TimerCancelled(id=t.id))]


def extend(state: RoomState, cmd: c.TimerExtend, ctx: Ctx) -> list[Emit]:
    t = _timer(state, cmd.id)
    if t.state not in ("running", "paused"):
        raise Rejected("conflict", f"timer {t.id!r} is {t.state}")
    left = (t.ends_at - ctx.now) if t.state == "running" else t.remaining
    if left + cmd.seconds <= 0:
        raise Rejected("invalid", "that would end the timer in the past; cancel it instead")
    return [Emit("all", e.TimerExtended(id=t.id, seconds=cmd.seconds))]


def agenda_next(state: RoomState, cmd: c.AgendaNext, ctx: Ctx) -> list[Emit]:
    if not state.agenda:
        raise Rejected("conflict", "this session has no agenda")
    i = 0 if state.agenda_index is None else state.agenda_index + 1
    if i >= len(state.agenda):
        raise Rejected("conflict", "this is the last agenda segment")
    return [Emit("all", e.AgendaAdvanced(index=i, title=state.agenda[i].title))]


def agenda_goto(state: RoomState, cmd: c.AgendaGoto, ctx: Ctx) -> list[Emit]:
    if not state.agenda:
        raise Rejected("conflict", "this session has no agenda")
    if cmd.index >= len(state.agenda):
        raise Rejected("not_found", f"the agenda has {len(state.agenda)} segments")
    if cmd.index == state.agenda_index:
        raise Rejected("conflict", f"{state.agenda[cmd.index].title!r} is the current segment")
    return [Emit("all", e.AgendaAdvanced(index=cmd.index, title=state.agenda[cmd.index].title))]


DECIDERS = {
    c.AgendaGoto: agenda_goto,
    c.TimerStart: start, c.TimerPause: pause, c.TimerResume: resume, c.TimerCancel: cancel,
    c.TimerExtend: extend, c.AgendaNext: agenda_next,
}


def _next_instant(t: Timer) -> float | None:
    if t.state != "running" or t.ends_at is None:
        return None
    return t.ends_at if t.warned else t.ends_at - WARNING_BEFORE


def due(state: RoomState) -> float | None:
    times = [x for x in map(_next_instant, state.timers.values()) if x is not None]
    return min(times) if times else None


def expire(state: RoomState, at: float) -> list[Emit]:
    out = []
    for t in state.timers.values():
        when = _next_instant(t)
        if when is None or when > at + 1e-9:
            continue
        if t.warned:
            out.append(Emit("all", e.TimerExpired(id=t.id), at=t.ends_at))
        else:
            out.append(Emit("all", e.TimerWarning(id=t.id), at=t.ends_at - WARNING_BEFORE))
    return out


# --- the fold --------------------------------------------------------------------

def _started(s: RoomState, ev: e.TimerStarted, at: float) -> None:
    s.timers[ev.id] = Timer(id=ev.id, label=ev.label, seconds=ev.seconds, state="running",
                            ends_at=ev.ends_at, remaining=ev.seconds,
                            warned=ev.ends_at - at <= WARNING_BEFORE)


def _paused(s: RoomState, ev: e.TimerPaused, at: float) -> None:
    t = s.timers[ev.id]
    t.state, t.remaining, t.ends_at = "paused", ev.remaining, None


def _resumed(s: RoomState, ev: e.TimerResumed, at: float) -> None:
    t = s.timers[ev.id]
    t.state, t.ends_at = "running", ev.ends_at
    t.warned = ev.ends_at - at <= WARNING_BEFORE


def _extended(s: RoomState, ev: e.TimerExtended, at: float) -> None:
    t = s.timers[ev.id]
    t.seconds += ev.seconds
    if t.state == "running":
        t.ends_at += ev.seconds
        t.warned = t.ends_at - at <= WARNING_BEFORE
    else:
        t.remaining += ev.seconds


def _cancelled(s: RoomState, ev: e.TimerCancelled, at: float) -> None:
    t = s.timers[ev.id]
    if t.state == "running":
        t.remaining = max(0.0, t.ends_at - at)
    t.state, t.ends_at, t.ended_at = "cancelled", None, at


def _warned(s: RoomState, ev: e.TimerWarning, at: float) -> None:
    s.timers[ev.id].warned = True


def _expired(s: RoomState, ev: e.TimerExpired, at: float) -> None:
    t = s.timers[ev.id]
    t.state, t.remaining, t.ends_at, t.ended_at = "expired", 0.0, None, at


def _agenda(s: RoomState, ev: e.AgendaAdvanced, at: float) -> None:
    s.agenda_index = ev.index
    s.agenda_started = at


EVOLVERS = {
    e.TimerStarted: _started, e.TimerPaused: _paused, e.TimerResumed: _resumed,
    e.TimerExtended: _extended, e.TimerCancelled: _cancelled, e.TimerWarning: _warned,
    e.TimerExpired: _expired, e.AgendaAdvanced: _agenda,
}


def remaining(t: Timer, now: float) -> float:
    """Seconds left on a timer at `now`: never below zero, and never more than the timer's length (a client whose
    clock runs behind the server's would otherwise count more than was set)."""
    if t.state == "running" and t.ends_at is not None:
        return min(t.seconds, max(0.0, t.ends_at - now))
    return t.remaining
