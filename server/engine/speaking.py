"""The speaking queue, turns, talk time and the timed go-around.

Fair mode orders the queue by talk time so far, ties by the time the hand
went up. Only a newly raised hand needs placing: people already waiting do
not speak while they wait, so their talk time cannot change under them.
"""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.state import RoomState
from server.engine.base import LEADS, Ctx, Emit, Rejected, participant, present_participants


def end_current_turn(state: RoomState, now: float, passed: bool = False) -> list[Emit]:
    if state.speaker is None:
        return []
    return [Emit("all", e.TurnEnded(person=state.speaker, passed=passed))]


def _present(state: RoomState, pid: str):
    m = participant(state, pid)
    if m.status != "present":
        raise Rejected("conflict", f"{m.name} is not present")
    return m


def advance_go_around(state: RoomState, now: float, passed: bool = False) -> list[Emit]:
    """Ends the current go-around turn and calls the next person still present."""
    out = end_current_turn(state, now, passed)
    for pid in state.go_around or []:
        m = state.members.get(pid)
        if m is not None and m.status == "present":
            out.append(Emit("all", e.TurnStarted(person=pid, ends_at=now + state.go_around_seconds)))
            return out
    out.append(Emit("all", e.GoAroundEnded()))
    return out


def raise_hand(state: RoomState, cmd: c.RaiseHand, ctx: Ctx) -> list[Emit]:
    m = _present(state, ctx.actor.id)
    if m.id in state.queue:
        raise Rejected("conflict", "your hand is already raised")
    if state.speaker == m.id:
        raise Rejected("conflict", "you are speaking now")
    return [Emit("all", e.HandRaised(person=m.id, position=_placement(state, m.id, ctx.now) + 1))]


def _placement(state: RoomState, pid: str, now: float) -> int:
    """0-based index a newly raised hand takes."""
    if state.queue_mode != "fair":
        return len(state.queue)
    key = (state.members[pid].talk, now)
    return next((i for i, q in enumerate(state.queue) if _fair_key(state, q) > key), len(state.queue))


def lower_hand(state: RoomState, cmd: c.LowerHand, ctx: Ctx) -> list[Emit]:
    if ctx.actor.role in LEADS:
        if cmd.target is None:
            raise Rejected("invalid", "lower_hand needs a target")
        pid = cmd.target
        participant(state, pid)
    else:
        if cmd.target not in (None, ctx.actor.id):
            raise Rejected("forbidden", "a participant may lower only their own hand")
        pid = ctx.actor.id
    if pid not in state.queue:
        raise Rejected("conflict", f"{state.members[pid].name} has no hand raised")
    return [Emit("all", e.HandLowered(person=pid))]


def next_speaker(state: RoomState, cmd: c.NextSpeaker, ctx: Ctx) -> list[Emit]:
    if state.go_around is not None:
        return advance_go_around(state, ctx.now)
    out = end_current_turn(state, ctx.now)
    for pid in state.queue:
        if state.members[pid].status == "present":
            out.append(Emit("all", e.TurnStarted(person=pid)))
            break
    return out


def call_on(state: RoomState, cmd: c.CallOn, ctx: Ctx) -> list[Emit]:
    m = _present(state, cmd.target)
    if state.speaker == m.id:
        raise Rejected("conflict", f"{m.name} is already speaking")
    return end_current_turn(state, ctx.now) + [Emit("all", e.TurnStarted(person=m.id))]


def end_turn(state: RoomState, cmd: c.EndTurn, ctx: Ctx) -> list[Emit]:
    if ctx.actor.role not in LEADS and ctx.actor.id != state.speaker:
        raise Rejected("forbidden", "only the speaker or a facilitator may end a turn")
    if state.speaker is None:
        raise Rejected("conflict", "nobody is speaking")
    if state.go_around is not None:
        return advance_go_around(state, ctx.now)
    return end_current_turn(state, ctx.now)


def move_in_queue(state: RoomState, cmd: c.MoveInQueue, ctx: Ctx) -> list[Emit]:
    m = participant(state, cmd.target)
    if cmd.target not in state.queue:
        raise Rejected("conflict", f"{m.name} is not in the queue")
    return [Emit("all", e.QueueMoved(person=cmd.target, position=min(cmd.position, len(state.queue))))]


def queue_mode(state: RoomState, cmd: c.QueueMode, ctx: Ctx) -> list[Emit]:
    order = list(state.queue)
    if cmd.mode == "fair":
        order.sort(key=lambda pid: _fair_key(state, pid))
    return [Emit("all", e.QueueModeSet(mode=cmd.mode, queue=order))]


def go_around(state: RoomState, cmd: c.GoAround, ctx: Ctx) -> list[Emit]:
    if state.go_around is not None:
        raise Rejected("conflict", "a go-around is already running")
    if cmd.order is not None:
        for pid in cmd.order:
            participant(state, pid)
        if len(set(cmd.order)) != len(cmd.order):
            raise Rejected("invalid", "a person appears twice in the order")
        order = [pid for pid in cmd.order if state.members[pid].status == "present"]
    else:
        order = [m.id for m in present_participants(state)]
    if not order:
        raise Rejected("conflict", "nobody present to go around")
    out = end_current_turn(state, ctx.now)
    out.append(Emit("all", e.GoAroundStarted(order=order, seconds=cmd.seconds)))
    out.append(Emit("all", e.TurnStarted(person=order[0], ends_at=ctx.now + cmd.seconds)))
    return out


def pass_turn(state: RoomState, cmd: c.Pass, ctx: Ctx) -> list[Emit]:
    if state.go_around is None or state.speaker != ctx.actor.id:
        raise Rejected("conflict", "you can pass only on your own go-around turn")
    return advance_go_around(state, ctx.now, passed=True)


def go_around_stop(state: RoomState, cmd: c.GoAroundStop, ctx: Ctx) -> list[Emit]:
    if state.go_around is None:
        raise Rejected("conflict", "no go-around is running")
    return end_current_turn(state, ctx.now) + [Emit("all", e.GoAroundEnded())]


DECIDERS = {
    c.GoAroundStop: go_around_stop,
    c.RaiseHand: raise_hand, c.LowerHand: lower_hand, c.NextSpeaker: next_speaker,
    c.CallOn: call_on, c.EndTurn: end_turn, c.MoveInQueue: move_in_queue,
    c.QueueMode: queue_mode, c.GoAround: go_around, c.Pass: pass_turn,
}


# --- the fold --------------------------------------------------------------------

def _fair_key(state: RoomState, pid: str) -> tuple[float, float]:
    m = state.members[pid]
    return (m.talk, m.hand_at if m.hand_at is not None else 0.0)


def _hand_raised(s: RoomState, ev: e.HandRaised, at: float) -> None:
    m = s.members[ev.person]
    m.hand_at = at
    pos = ev.position - 1 if ev.position > 0 else len(s.queue)
    s.queue.insert(min(pos, len(s.queue)), ev.person)


def _hand_lowered(s: RoomState, ev: e.HandLowered, at: float) -> None:
    s.members[ev.person].hand_at = None
    if ev.person in s.queue:
        s.queue.remove(ev.person)


def _turn_started(s: RoomState, ev: e.TurnStarted, at: float) -> None:
    s.speaker = ev.person
    s.turn_started = at
    s.turn_ends = ev.ends_at
    m = s.members[ev.person]
    m.hand_at = None
    if ev.person in s.queue:
        s.queue.remove(ev.person)
    if s.go_around and ev.person in s.go_around:
        # people skipped on the way (gone when their turn came) leave the round too
        del s.go_around[: s.go_around.index(ev.person) + 1]


def _turn_ended(s: RoomState, ev: e.TurnEnded, at: float) -> None:
    m = s.members.get(ev.person)
    if m is not None and s.turn_started is not None:
        m.talk += max(0.0, at - s.turn_started)
    s.speaker = None
    s.turn_started = None
    s.turn_ends = None


def _queue_moved(s: RoomState, ev: e.QueueMoved, at: float) -> None:
    s.queue.remove(ev.person)
    s.queue.insert(ev.position - 1, ev.person)


def _mode_set(s: RoomState, ev: e.QueueModeSet, at: float) -> None:
    s.queue_mode = ev.mode
    if ev.queue is not None:
        s.queue = list(ev.queue)


def _go_around_started(s: RoomState, ev: e.GoAroundStarted, at: float) -> None:
    s.go_around = list(ev.order)
    s.go_around_seconds = ev.seconds


def _go_around_ended(s: RoomState, ev: e.GoAroundEnded, at: float) -> None:
    s.go_around = None
    s.go_around_seconds = 0


EVOLVERS = {
    e.HandRaised: _hand_raised, e.HandLowered: _hand_lowered, e.TurnStarted: _turn_started,
    e.TurnEnded: _turn_ended, e.QueueMoved: _queue_moved, e.QueueModeSet: _mode_set,
    e.GoAroundStarted: _go_around_started, e.GoAroundEnded: _go_around_ended,
}


def talk_seconds(state: RoomState, pid: str, now: float) -> float:
    m = state.members[pid]
    extra = now - state.turn_started if state.speaker == pid and state.turn_started is not None else 0.0
    return m.talk + max(0.0, extra)
