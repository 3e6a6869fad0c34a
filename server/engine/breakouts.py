"""Breakout rooms: a draft plan, moves, the timed open, and everyone back.

Room numbers are 1-based on the wire (as facilitators count them) and in
`Member.breakout`; `state.rooms` is the 0-based list behind them.
"""
from __future__ import annotations

import re

from protocol import commands as c
from protocol import events as e
from protocol.state import Alert, BroadcastLine, Help, RoomState
from server.engine import conversation, hearing
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
        raise Rejected("conflict", conflict_words(state, exc)) from None
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
    broken = broken_rules(state)
    if broken and not cmd.override:
        raise Rejected("conflict", f"this draft breaks a rule: {rule_words(state, broken)}."
                                   " Move someone, or open anyway with override")
    out = []
    if state.speaker is not None:
        from server.engine.speaking import end_current_turn
        out.extend(end_current_turn(state, ctx.now))
    if state.go_around is not None:
        out.append(Emit("all", e.GoAroundEnded()))
    # the record keeps that the rules were overridden, and which (ids, for the record's readers)
    out.append(Emit("all", e.BreakoutsOpened(rooms=rooms, ends_at=ctx.now + cmd.minutes * 60,
                                             round=state.round + 1, override=bool(broken),
                                             overridden=[list(b) for b in broken])))
    return out


def broadcast(state: RoomState, cmd: c.BreakoutsBroadcast, ctx: Ctx) -> list[Emit]:
    if state.breakouts != "open":
        raise Rejected("conflict", "breakouts are not open")
    # to every room of this round, not to the main room: what is said to the rooms stays with the round
    return [Emit(hearing.breakout_aud(state.round, "*"),
                 e.BreakoutsBroadcast(text=cmd.text, by=ctx.actor.id, round=state.round))]


def close_rooms(state: RoomState, cmd: c.BreakoutsClose, ctx: Ctx) -> list[Emit]:
    if state.breakouts != "open":
        raise Rejected("conflict", "breakouts are not open")
    return [Emit("all", e.BreakoutsClosed())]


def rule(state: RoomState, cmd: c.BreakoutsRule, ctx: Ctx) -> list[Emit]:
    a, b = participant(state, cmd.target), participant(state, cmd.other)
    if a.id == b.id:
        raise Rejected("invalid", "a rule needs two different people")
    has = lambda kind: b.id in getattr(a, kind) or a.id in getattr(b, kind)  # noqa: E731
    if cmd.remove:
        if not has(cmd.kind):
            raise Rejected("conflict", f"there is no such rule for {a.name} and {b.name}")
    else:
        other = "apart" if cmd.kind == "together" else "together"
        if has(other):
            raise Rejected("conflict", f"{a.name} and {b.name} are to be kept {other}: remove that rule first")
        if has(cmd.kind):
            raise Rejected("conflict", f"{a.name} and {b.name} are already to be kept {cmd.kind}")
    # staff only: who must be kept from whom is clinical, never the participants'
    return [Emit("staff", e.BreakoutRuleChanged(kind=cmd.kind, a=a.id, b=b.id, removed=cmd.remove))]


def listen_in(state: RoomState, cmd: c.ListenIn, ctx: Ctx) -> list[Emit]:
    if cmd.room and (state.breakouts != "open" or cmd.room > len(state.rooms)):
        raise Rejected("not_found", f"there is no open breakout room {cmd.room}")
    return [Emit("staff", e.ListenedIn(person=ctx.actor.id, room=cmd.room))]


def help_request(state: RoomState, cmd: c.HelpRequest, ctx: Ctx) -> list[Emit]:
    m = participant(state, ctx.actor.id)
    room = m.breakout if state.breakouts == "open" and m.breakout else 0
    return [Emit(f"p:{m.id}", e.HelpRequested(help_id=state.help_count + 1, person=m.id,
                                               room=room, text=cmd.text, round=state.round if room else 0))]


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
    c.BreakoutsRule: rule,
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
        hearing.stay(s.members[ev.person], s.round, ev.room, s.seq)


def _opened(s: RoomState, ev: e.BreakoutsOpened, at: float) -> None:
    s.breakouts = "open"
    s.round = ev.round or s.round + 1      # records from before rounds had numbers: count them
    s.broadcasts = []
    s.rooms = [list(r) for r in ev.rooms]
    s.breakouts_ends = ev.ends_at
    s.breakouts_warned = ev.ends_at - at <= WARNING_BEFORE
    for i, r in enumerate(s.rooms, start=1):
        for pid in r:
            s.members[pid].breakout = i
            hearing.stay(s.members[pid], s.round, i, s.seq)


def _warned(s: RoomState, ev, at: float) -> None:
    s.breakouts_warned = True


def _broadcast(s: RoomState, ev: e.BreakoutsBroadcast, at: float) -> None:
    # kept while the rooms are open, so that a participant's view has them after a reconnect
    if s.breakouts == "open":
        s.broadcasts.append(BroadcastLine(text=ev.text, at=at, seq=s.seq))
    conversation.broadcast_line(s, ev, at)     # and a line in the staff's chat


def _closed(s: RoomState, ev: e.BreakoutsClosed, at: float) -> None:
    s.breakouts = "none"
    s.broadcasts = []
    s.rooms = []
    s.breakouts_ends = None
    s.breakouts_warned = False
    for m in s.members.values():
        m.breakout = None
        m.listening = None
        hearing.end_stay(m, s.seq)


def _rule(s: RoomState, ev: e.BreakoutRuleChanged, at: float) -> None:
    # both sides, so the rule reads the same from either person
    for x, y in ((ev.a, ev.b), (ev.b, ev.a)):
        m = s.members[x]
        rules = m.together if ev.kind == "together" else m.apart
        rules = [r for r in rules if r != y] + ([] if ev.removed else [y])
        if ev.kind == "together":
            m.together = rules
        else:
            m.apart = rules


def _listened(s: RoomState, ev: e.ListenedIn, at: float) -> None:
    s.members[ev.person].listening = ev.room or None


def _help(s: RoomState, ev: e.HelpRequested, at: float) -> None:
    s.help_count = max(s.help_count, ev.help_id)
    s.help[ev.help_id] = Help(help_id=ev.help_id, person=ev.person, room=ev.room, text=ev.text, at=at,
                              round=ev.round)
    s.alerts.append(Alert(kind="help", person=ev.person, text=ev.text or "asked for help", at=at))


def _help_ack(s: RoomState, ev: e.HelpAcknowledged, at: float) -> None:
    s.help[ev.help_id].acknowledged_by = ev.by


EVOLVERS = {
    e.BreakoutsPlanned: _planned, e.BreakoutMoved: _moved, e.BreakoutsOpened: _opened,
    e.BreakoutsWarning: _warned, e.BreakoutsBroadcast: _broadcast,
    e.BreakoutsClosed: _closed, e.ListenedIn: _listened, e.HelpRequested: _help,
    e.HelpAcknowledged: _help_ack, e.BreakoutRuleChanged: _rule,
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


def _name(state: RoomState, pid: str) -> str:
    m = state.members.get(pid)
    return m.name if m is not None and m.name else "a participant"


def rule_words(state: RoomState, broken: list[tuple[str, str, str]]) -> str:
    """Broken rules by display names, never ids: "Casey and Drew must be kept apart"."""
    words = {"together": "should be kept together", "apart": "must be kept apart"}
    return "; ".join(f"{_name(state, a)} and {_name(state, b)} {words[kind]}" for kind, a, b in broken)


def conflict_words(state: RoomState, exc: PlanConflict) -> str:
    """A plan that cannot be made, in the facilitator's words: the planner works on
    ids and says which rules clash (`exc.rules`); the facilitator reads names."""
    names = lambda ids: ", ".join(_name(state, p) for p in ids)  # noqa: E731
    # the sizes are the one part of the planner's message that holds no id
    sizes = re.search(r"of sizes (\d+(?:, \d+)*):|at most (\d+)$", str(exc))
    sizes = (sizes.group(1) or sizes.group(2)) if sizes else "?"
    if exc.kind == "contradiction":
        (_, (a, b)), *chain = exc.rules
        via = list(dict.fromkeys(p for _, ids in chain for p in ids if p not in (a, b)))
        return (f"cannot keep {_name(state, a)} and {_name(state, b)} apart: they must be together"
                + (f" (via {names(via)})" if via else ""))
    if exc.kind == "too_big":
        return f"cannot fit together {names(exc.rules[0][1])} in rooms of at most {sizes}"
    rules = "; ".join(f"{k} {names(ids)}" for k, ids in exc.rules)
    return f"no assignment keeps every rule in rooms of sizes {sizes}: {rules}"
