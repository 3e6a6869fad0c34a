"""Breakout rooms: a draft plan, moves, the timed open, and everyone back.

Room numbers are 1-based on the wire (as facilitators count them) and in
`Member.breakout`; `state.rooms` is the 0-based list behind them.
"""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.state import Help, RoomState, Alert
from server.engine.base import Ctx, Emit, Rejected, participant, present_participants
from server.engine.breakout_plan import PlanConflict, plan_breakouts

WARNING_BEFORE = 60.0


def plan(state: RoomState, cmd: c.BreakoutsPlan, ctx: Ctx) -> list[Emit]:
    if state.breakouts == "open":
        raise Rejected("conflict", "breakouts are open; close them before planning again")
    if (cmd.rooms is None) == (cmd.size is None):
        raise Rejected("invalid", "give either rooms or size")
    people = [m.id for m in present_participants(state)]
    if not people:
        raise Rejected("conflict", "nobody present to place in breakouts")
    for group in list(cmd.together) + list(cmd.apart):
        for pid in group:
            participant(state, pid)
    together = [[m.id, *m.together] for m in state.members.values() if m.together]
    apart = [[m.id, other] for m in state.members.values() for other in m.apart]
    try:
        rooms = plan_breakouts(people, rooms=cmd.rooms, size=cmd.size,
                               together=together + [list(g) for g in cmd.together],
                               apart=apart + [list(g) for g in cmd.apart], seed=cmd.seed)
    except PlanConflict as exc:
        raise Rejected("conflict", str(exc)) from None
    except ValueError as exc:
        raise Rejected("invalid", str(exc)) from None
    return [Emit("staff", e.BreakoutsPlanned(rooms=rooms))]


def move(state: RoomState, cmd: c.BreakoutsMove, ctx: Ctx) -> list[Emit]:
    if state.breakouts == "none":
        raise Rejected("conflict", "there is no breakout plan")
    m = participant(state, cmd.target)
    if m.status not in ("present", "dropped"):
        raise Rejected("conflict", f"{m.name} is not present")
    if cmd.room > len(state.rooms) + 1:
        raise Rejected("not_found", f"there is no breakout room {cmd.room}")
    aud = "all" if state.breakouts == "open" else "staff"
    return [Emit(aud, e.BreakoutMoved(person=m.id, room=cmd.room))]


def open_rooms(state: RoomState, cmd: c.BreakoutsOpen, ctx: Ctx) -> list[Emit]:
    if state.breakouts == "open":
        raise Rejected("conflict", "breakouts are already open")
    if state.breakouts != "draft":
        raise Rejected("conflict", "plan the breakouts first")
    rooms = [list(r) for r in state.rooms if r]
    out = []
    if state.speaker is not None:
        from server.engine.speaking import end_current_turn
        out.extend(end_current_turn(state, ctx.now))
    if state.go_around is not None:
        out.append(Emit("all", e.GoAroundEnded()))
    out.append(Emit("all", e.BreakoutsOpened(rooms=rooms, ends_at=ctx.now + cmd.minutes * 60)))
    return out


def broadcast(state: RoomState, cmd: c.BreakoutsBroadcast, ctx: Ctx) -> list[Emit]:
    if state.breakouts != "open":
        raise Rejected("conflict", "breakouts are not open")
    return [Emit("all", e.BreakoutsBroadcast(text=cmd.text, by=ctx.actor.id))]


def close_rooms(state: RoomState, cmd: c.BreakoutsClose, ctx: Ctx) -> list[Emit]:
    if state.breakouts != "open":
        raise Rejected("conflict", "breakouts are not open")
    return [Emit("all", e.BreakoutsClosed())]


def listen_in(state: RoomState, cmd: c.ListenIn, ctx: Ctx) -> list[Emit]:
    if cmd.room and (state.breakouts != "open" or cmd.room > len(state.rooms)):
        raise Rejected("not_found", f"there is no open breakout room {cmd.room}")
    return [Emit("staff", e.ListenedIn(person=ctx.actor.id, room=cmd.room))]


def help_request(state: RoomState, cmd: c.HelpRequest, ctx: Ctx) -> list[Emit]:
    m = participant(state, ctx.actor.id)
    room = m.breakout if state.breakouts == "open" and m.breakout else 0
    return [Emit(f"p:{m.id}", e.HelpRequested(help_id=state.help_count + 1, person=m.id,
                                               room=room, text=cmd.text))]


def help_ack(state: RoomState, cmd: c.HelpAcknowledge, ctx: Ctx) -> list[Emit]:
    h = state.help.get(cmd.help_id)
    if h is None:
        raise Rejected("not_found", f"no help request {cmd.help_id}")
    if h.acknowledged_by is not None:
        raise Rejected("conflict", "that help request was already answered")
    return [Emit(f"p:{h.person}", e.HelpAcknowledged(help_id=h.help_id, by=ctx.actor.id))]


DECIDERS = {
    c.BreakoutsPlan: plan, c.BreakoutsMove: move, c.BreakoutsOpen: open_rooms,
    c.BreakoutsBroadcast: broadcast, c.BreakoutsClose: close_rooms, c.ListenIn: listen_in,
    c.HelpRequest: help_request, c.HelpAcknowledge: help_ack,
}


def due(state: RoomState) -> float | None:
    if state.breakouts != "open" or state.breakouts_ends is None:
        return None
    if not state.breakouts_warned:
        return state.breakouts_ends - WARNING_BEFORE
    return state.breakouts_ends


def expire(state: RoomState, at: float) -> list[Emit]:
    if state.breakouts != "open" or state.breakouts_ends is None:
        return []
    if at >= state.breakouts_ends - 1e-9:
        return [Emit("all", e.BreakoutsClosed(expired=True), at=state.breakouts_ends)]
    if not state.breakouts_warned:
        return [Emit("all", e.BreakoutsWarning(ends_at=state.breakouts_ends), at=state.breakouts_ends - WARNING_BEFORE)]
    return []


# --- the fold --------------------------------------------------------------------

def _planned(s: RoomState, ev: e.BreakoutsPlanned, at: float) -> None:
    s.breakouts = "draft"
    s.rooms = [list(r) for r in ev.rooms]


def _moved(s: RoomState, ev: e.BreakoutMoved, at: float) -> None:
    for r in s.rooms:
        if ev.person in r:
            r.remove(ev.person)
    while len(s.rooms) < ev.room:
        s.rooms.append([])
    s.rooms[ev.room - 1].append(ev.person)
    if s.breakouts == "open":
        s.members[ev.person].breakout = ev.room


def _opened(s: RoomState, ev: e.BreakoutsOpened, at: float) -> None:
    s.breakouts = "open"
    s.rooms = [list(r) for r in ev.rooms]
    s.breakouts_ends = ev.ends_at
    s.breakouts_warned = ev.ends_at - at <= WARNING_BEFORE
    for i, r in enumerate(s.rooms, start=1):
        for pid in r:
            s.members[pid].breakout = i


def _warned(s: RoomState, ev, at: float) -> None:
    s.breakouts_warned = True


def _closed(s: RoomState, ev: e.BreakoutsClosed, at: float) -> None:
    s.breakouts = "none"
    s.rooms = []
    s.breakouts_ends = None
    s.breakouts_warned = False
    for m in s.members.values():
        m.breakout = None
        m.listening = None


def _listened(s: RoomState, ev: e.ListenedIn, at: float) -> None:
    s.members[ev.person].listening = ev.room or None


def _help(s: RoomState, ev: e.HelpRequested, at: float) -> None:
    s.help_count = max(s.help_count, ev.help_id)
    s.help[ev.help_id] = Help(help_id=ev.help_id, person=ev.person, room=ev.room, text=ev.text, at=at)
    s.alerts.append(Alert(kind="help", person=ev.person, text=ev.text or "asked for help", at=at))


def _help_ack(s: RoomState, ev: e.HelpAcknowledged, at: float) -> None:
    s.help[ev.help_id].acknowledged_by = ev.by


EVOLVERS = {
    e.BreakoutsPlanned: _planned, e.BreakoutMoved: _moved, e.BreakoutsOpened: _opened,
    e.BreakoutsWarning: _warned,   # BreakoutsBroadcast: folded as a chat line (conversation.py)
    e.BreakoutsClosed: _closed, e.ListenedIn: _listened, e.HelpRequested: _help,
    e.HelpAcknowledged: _help_ack,
}


def broken_rules(state: RoomState) -> list[tuple[str, str, str]]:
    """The keep-together and keep-apart rules the current rooms break, as
    (kind, a, b) with kind "together" or "apart", each pair once.

    Moves are the facilitator's call and are not refused; a console shows these
    before the rooms open so the choice is made knowingly."""
    where = {pid: i for i, r in enumerate(state.rooms, start=1) for pid in r}
    out = []
    seen = set()
    for m in state.members.values():
        if m.id not in where:
            continue
        for kind, others in (("together", m.together), ("apart", m.apart)):
            for other in others:
                if other not in where or frozenset((m.id, other)) in seen:
                    continue
                same = where[other] == where[m.id]
                if (kind == "together") != same:
                    seen.add(frozenset((m.id, other)))
                    out.append((kind, m.id, other))
    return out
