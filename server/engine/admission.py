"""Opening and closing the session, the waiting room, presence and attendance.

Attendance is kept as closed intervals (`attended`) plus the interval now
running (`present_since`). A drop leaves the interval running: a return
within the grace continues it as if nothing happened; once the grace runs
out (`DropOverdue`) the interval is closed at the instant of the drop.
"""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.state import Member, RoomState
from server.engine import hearing
from server.engine.base import STAFF_ROLES, Actor, Ctx, Emit, Rejected, occupying, participant

# --- connection-level requests (made by the gateway, not sent by clients) -----


def connect(state: RoomState, actor: Actor, now: float) -> list[Emit]:
    m = state.members.get(actor.id)
    if actor.role in STAFF_ROLES:
        # "all": participants see who is in the room with them, observers included
        return [Emit("all", e.StaffEntered(person=actor.id, name=actor.name, role=actor.role))]
    if state.phase == "setup":
        raise Rejected("closed", "the session has not opened yet")
    if state.phase == "closed":
        raise Rejected("closed", "the session has ended")
    if m is not None and m.role != "participant":
        raise Rejected("forbidden", "this id belongs to a member of staff")
    if m is not None and m.status == "removed":
        raise Rejected("forbidden", "you were removed from this session")
    if m is not None and m.admitted:
        if m.status in ("present",):
            return []
        holds_seat = m.status == "dropped" and not m.drop_overdue
        if not holds_seat and occupying(state) >= state.capacity:
            # back without waiting, unless someone took the seat meanwhile: then the
            # facilitator decides, as for anyone at the door of a full room
            if m.status == "waiting":
                return []
            return [Emit(f"p:{actor.id}", e.ParticipantWaiting(person=actor.id, name=actor.name or m.name))]
        return [Emit("all", e.Returned(person=actor.id, name=actor.name or m.name))]
    if m is not None and m.status == "waiting":
        return []
    out = [Emit(f"p:{actor.id}", e.ParticipantWaiting(person=actor.id, name=actor.name))]
    expected = m is not None and m.expected
    agreed = m is not None and m.agreed
    if state.auto_admit and expected and (agreed or not state.agreement) and occupying(state) < state.capacity:
        out.append(Emit("all", e.Admitted(person=actor.id, name=actor.name, auto=True)))
    return out


def issue_device(state: RoomState, actor: Actor, device: str) -> list[Emit]:
    """The person's link exchanged on a device: from now on that device holds their place,
    and an older one's credential opens nothing (server/tokens.py). Staff's to know."""
    m = state.members.get(actor.id)
    if m is None or m.role != "participant":
        return []
    return [Emit("staff", e.DeviceIssued(person=actor.id, device=device))]


def disconnect(state: RoomState, actor: Actor, now: float) -> list[Emit]:
    m = state.members.get(actor.id)
    if m is None:
        return []
    if m.role in STAFF_ROLES:
        return [Emit("all", e.StaffLeft(person=actor.id, dropped=True))] if m.status == "present" else []
    out: list[Emit] = []
    if m.status == "waiting":
        out.append(Emit(f"p:{m.id}", e.WaitingLeft(person=m.id)))
    elif m.status == "present":
        if state.speaker == m.id:
            out.extend(end_turn_emits(state, now))
        out.append(Emit("all", e.Dropped(person=m.id)))
    return out


def end_turn_emits(state: RoomState, now: float) -> list[Emit]:
    """The speaker is going: a go-around moves on to the next person, a plain turn just ends."""
    from server.engine.speaking import advance_go_around, end_current_turn  # the queue owns turns
    if state.go_around is not None:
        return advance_go_around(state, now)
    return end_current_turn(state, now)


# --- commands ------------------------------------------------------------------

def configure(state: RoomState, cmd: c.Configure, ctx: Ctx) -> list[Emit]:
    ids = [r.id for r in cmd.roster]
    if len(ids) != len(set(ids)):
        raise Rejected("invalid", "a roster id appears twice")
    return [Emit("staff", e.RoomConfigured(
        title=cmd.title, capacity=cmd.capacity, agreement=cmd.agreement, auto_admit=cmd.auto_admit,
        drop_grace=cmd.drop_grace, agenda=cmd.agenda, roster=cmd.roster,
        program=cmd.program, date=cmd.date, survey=cmd.survey))]


def open_session(state: RoomState, cmd: c.Open, ctx: Ctx) -> list[Emit]:
    if state.phase == "open":
        raise Rejected("conflict", "the session is already open")
    out = [Emit("all", e.SessionOpened())]
    if state.agenda:
        out.append(Emit("all", e.AgendaAdvanced(index=0, title=state.agenda[0].title)))
    return out


def close_session(state: RoomState, cmd: c.Close, ctx: Ctx) -> list[Emit]:
    from server.engine.speaking import end_current_turn
    out: list[Emit] = end_current_turn(state, ctx.now)
    if state.go_around is not None:
        out.append(Emit("all", e.GoAroundEnded()))
    if state.breakouts == "open":
        out.append(Emit("all", e.BreakoutsClosed()))
    for p in state.polls.values():
        if p.state == "open":
            out.append(Emit("all", e.PollClosed(id=p.id)))
    out.append(Emit("all", e.SessionClosed()))
    return out


def accept_agreement(state: RoomState, cmd: c.AcceptAgreement, ctx: Ctx) -> list[Emit]:
    m = participant(state, ctx.actor.id)
    out = [Emit(f"p:{m.id}", e.AgreementAccepted(person=m.id))]
    if (m.status == "waiting" and state.auto_admit and m.expected
            and occupying(state) < state.capacity):
        out.append(Emit("all", e.Admitted(person=m.id, name=m.name, auto=True)))
    return out


def share_location(state: RoomState, cmd: c.ShareLocation, ctx: Ctx) -> list[Emit]:
    participant(state, ctx.actor.id)
    return [Emit("staff", e.LocationCheckedIn(person=ctx.actor.id, location=cmd.location))]


def admit(state: RoomState, cmd: c.Admit, ctx: Ctx) -> list[Emit]:
    m = participant(state, cmd.target)
    if m.status != "waiting":
        raise Rejected("conflict", f"{m.name} is not in the waiting room")
    if state.agreement and not m.agreed:
        raise Rejected("conflict", f"{m.name} has not accepted the group agreement")
    if occupying(state) >= state.capacity:
        raise Rejected("full", f"the room is at its capacity of {state.capacity}")
    return [Emit("all", e.Admitted(person=m.id, name=m.name))]


def deny(state: RoomState, cmd: c.Deny, ctx: Ctx) -> list[Emit]:
    m = participant(state, cmd.target)
    if m.status != "waiting":
        raise Rejected("conflict", f"{m.name} is not in the waiting room")
    return [Emit(f"p:{m.id}", e.Denied(person=m.id))]


def remove(state: RoomState, cmd: c.Remove, ctx: Ctx) -> list[Emit]:
    m = participant(state, cmd.target)
    if m.status in ("removed", "absent"):
        raise Rejected("conflict", f"{m.name} is not in the session")
    out: list[Emit] = []
    if state.speaker == m.id:
        out.extend(end_turn_emits(state, ctx.now))
    out.append(Emit("all", e.Removed(person=m.id, reason=cmd.reason)))
    return out


def excuse(state: RoomState, cmd: c.Excuse, ctx: Ctx) -> list[Emit]:
    m = participant(state, cmd.target)
    if m.admitted:
        raise Rejected("conflict", f"{m.name} attended this session")
    if not m.expected:
        raise Rejected("conflict", f"{m.name} is not on the roster for this session")
    return [Emit("staff", e.Excused(person=m.id, reason=cmd.reason))]


def leave(state: RoomState, cmd: c.Leave, ctx: Ctx) -> list[Emit]:
    m = state.members.get(ctx.actor.id)
    if m is None:
        raise Rejected("not_found", "you are not in this room")
    if m.role in STAFF_ROLES:
        return [Emit("all", e.StaffLeft(person=m.id))]
    if m.status == "waiting":
        return [Emit(f"p:{m.id}", e.WaitingLeft(person=m.id, by_choice=True))]
    if m.status != "present":
        raise Rejected("conflict", "you are not in the room")
    out: list[Emit] = []
    if state.speaker == m.id:
        out.extend(end_turn_emits(state, ctx.now))
    out.append(Emit("all", e.Left(person=m.id)))
    return out


DECIDERS = {
    c.Configure: configure, c.Open: open_session, c.Close: close_session,
    c.AcceptAgreement: accept_agreement, c.ShareLocation: share_location, c.Admit: admit, c.Deny: deny,
    c.Remove: remove, c.Excuse: excuse, c.Leave: leave,
}


# --- the fold --------------------------------------------------------------------

def _close_interval(m: Member, until: float) -> None:
    if m.present_since is not None:
        m.attended += max(0.0, until - m.present_since)
        m.present_since = None


def _stop_waiting(m: Member, until: float) -> None:
    """Ends the waiting-room interval now counting (admitted, gone, denied, removed, closed)."""
    if m.waiting_since is not None:
        m.waited += max(0.0, until - m.waiting_since)
        m.waiting_since = None


def _arrives(m: Member, at: float) -> None:
    if m.arrived_at is None:
        m.arrived_at = at


def _configured(s: RoomState, ev: e.RoomConfigured, at: float) -> None:
    s.title, s.capacity, s.agreement = ev.title, ev.capacity, ev.agreement
    s.auto_admit, s.drop_grace, s.agenda = ev.auto_admit, ev.drop_grace, list(ev.agenda)
    s.program, s.date = ev.program, ev.date
    s.survey_enabled = ev.survey
    for r in ev.roster:
        m = s.members.get(r.id)
        if m is None:
            m = s.members[r.id] = Member(id=r.id, name=r.name, role=r.role)
        m.name, m.role, m.expected = r.name, r.role, r.expected and r.role == "participant"
        m.together, m.apart = list(r.together), list(r.apart)


def _opened(s: RoomState, ev, at: float) -> None:
    s.phase = "open"
    s.opened_at = at


def _closed(s: RoomState, ev, at: float) -> None:
    s.phase = "closed"
    s.closed_at = at
    for m in s.members.values():
        if m.role != "participant":
            if m.status == "present":
                m.status = "left"
            continue
        hearing.leave(m, s.seq)
        if m.status == "present":
            _close_interval(m, at)
            m.last_left = at
            m.status = "left"
        elif m.status == "dropped":
            _close_interval(m, m.drop_at or at)
            m.status = "left"
        elif m.status == "waiting":
            _stop_waiting(m, at)
            m.status = "absent"
        m.hand_at = None
    s.queue = []


def _staff_entered(s: RoomState, ev: e.StaffEntered, at: float) -> None:
    m = s.members.get(ev.person)
    if m is None:
        m = s.members[ev.person] = Member(id=ev.person, name=ev.name, role=ev.role)
    m.name, m.role, m.status = ev.name, ev.role, "present"
    if m.first_joined is None:
        m.first_joined = at


def _staff_left(s: RoomState, ev: e.StaffLeft, at: float) -> None:
    m = s.members.get(ev.person)
    if m is not None:
        m.status = "dropped" if ev.dropped else "left"
        m.last_left = at
        m.listening = None


def _waiting(s: RoomState, ev: e.ParticipantWaiting, at: float) -> None:
    m = s.members.get(ev.person)
    if m is None:
        m = s.members[ev.person] = Member(id=ev.person, name=ev.name)
    m.name = ev.name or m.name
    _arrives(m, at)
    if m.status != "waiting" or m.waiting_since is None:
        m.waiting_since = at
    m.status = "waiting"
    hearing.leave(m, s.seq)      # admitted before, back at the door of a full room: out until admitted


def _waiting_left(s: RoomState, ev: e.WaitingLeft, at: float) -> None:
    m = s.members[ev.person]
    if m.status == "waiting":
        _stop_waiting(m, at)
        m.status = "absent"
    if ev.by_choice:
        m.chose_to_leave = at


def _agreed(s: RoomState, ev: e.AgreementAccepted, at: float) -> None:
    s.members[ev.person].agreed = True


def _located(s: RoomState, ev: e.LocationCheckedIn, at: float) -> None:
    s.members[ev.person].location = ev.location


def _admitted(s: RoomState, ev: e.Admitted, at: float) -> None:
    m = s.members[ev.person]
    _stop_waiting(m, at)
    _arrives(m, at)
    m.status = "present"
    m.present_since = at
    hearing.enter(m, s.seq)
    if not m.admitted:
        m.admitted = True
        s.joins += 1
        m.order = s.joins
        m.first_joined = at


def _denied(s: RoomState, ev: e.Denied, at: float) -> None:
    m = s.members[ev.person]
    _stop_waiting(m, at)
    m.status = "denied"


def _leaves(m: Member, s: RoomState, at: float, status: str) -> None:
    if m.status == "dropped" and m.drop_at is not None:
        _close_interval(m, m.drop_at)
        m.last_left = m.drop_at
    elif m.status == "present":
        _close_interval(m, at)
        m.last_left = at
    _stop_waiting(m, at)
    m.status = status
    m.drop_at = None
    hearing.leave(m, s.seq)
    m.hand_at = None
    if m.id in s.queue:
        s.queue.remove(m.id)
    if s.go_around is not None and m.id in s.go_around:
        s.go_around.remove(m.id)


def _removed(s: RoomState, ev: e.Removed, at: float) -> None:
    m = s.members[ev.person]
    _leaves(m, s, at, "removed")
    m.removed_at = at


def _left(s: RoomState, ev: e.Left, at: float) -> None:
    _leaves(s.members[ev.person], s, at, "left")
    s.members[ev.person].chose_to_leave = at


def _device_issued(s: RoomState, ev: e.DeviceIssued, at: float) -> None:
    m = s.members.get(ev.person)
    if m is not None:
        m.device = ev.device


def _excused(s: RoomState, ev: e.Excused, at: float) -> None:
    s.members[ev.person].excused = ev.reason or "excused"


def _dropped(s: RoomState, ev: e.Dropped, at: float) -> None:
    m = s.members[ev.person]
    m.status = "dropped"
    m.drop_at = at
    m.drop_overdue = False
    m.drops += 1


def _drop_overdue(s: RoomState, ev: e.DropOverdue, at: float) -> None:
    m = s.members[ev.person]
    m.drop_overdue = True
    if m.drop_at is not None:
        _close_interval(m, m.drop_at)
        m.last_left = m.drop_at
    from protocol.state import Alert
    s.alerts.append(Alert(kind="drop_overdue", person=m.id, text="dropped and has not come back", at=at))


def _returned(s: RoomState, ev: e.Returned, at: float) -> None:
    m = s.members[ev.person]
    if m.present_since is None:
        m.present_since = at
    _stop_waiting(m, at)        # back from a full room's waiting room
    m.status = "present"
    hearing.enter(m, s.seq)      # after a drop the span never ended; after leaving, a new one
    m.drop_at = None
    m.drop_overdue = False


EVOLVERS = {
    e.RoomConfigured: _configured, e.SessionOpened: _opened, e.SessionClosed: _closed,
    e.StaffEntered: _staff_entered, e.StaffLeft: _staff_left, e.ParticipantWaiting: _waiting,
    e.WaitingLeft: _waiting_left, e.AgreementAccepted: _agreed, e.LocationCheckedIn: _located,
    e.Admitted: _admitted, e.Denied: _denied, e.Removed: _removed, e.Left: _left,
    e.DeviceIssued: _device_issued,
    e.Excused: _excused, e.Dropped: _dropped, e.DropOverdue: _drop_overdue, e.Returned: _returned,
}


def attended_seconds(m: Member, now: float) -> float:
    """Time present so far; a drop still within its grace counts up to the drop."""
    total = m.attended
    if m.present_since is not None:
        end = m.drop_at if m.status == "dropped" and m.drop_at is not None else now
        total += max(0.0, end - m.present_since)
    return total


def waiting_seconds(m: Member, now: float) -> float:
    """Time spent in the waiting room so far (reported apart from lateness)."""
    total = m.waited
    if m.waiting_since is not None and m.status == "waiting":
        total += max(0.0, now - m.waiting_since)
    return total
