"""Who sees what: audience membership, participant redaction, the participant view.

The record keeps everything; these functions decide what leaves the server
for whom. Participants see display names, their own status and answers,
chat meant for them and shared results; never notes, flags, locations,
alerts, the waiting room, other people's answers or attendance.
"""
from __future__ import annotations

import msgspec

from protocol import events as e
from protocol.state import ParticipantView, PersonView, PollView, RoomState
from server.engine.base import STAFF_ROLES
from server.engine.polls import tally


def is_staff(role: str) -> bool:
    return role in STAFF_ROLES


def receives(aud: str, person: str, role: str, status: str, breakout: int | None) -> bool:
    """Whether a connected person receives an event addressed to `aud`."""
    if role in STAFF_ROLES:
        return True
    if aud == "staff":
        return False
    if aud.startswith("p:"):
        return aud[2:] == person
    if status != "present":
        return False          # the waiting room hears nothing of the room
    if aud == "all":
        return True
    if aud.startswith("b:"):
        return breakout is not None and aud[2:] == str(breakout)
    return False


def for_participants(event: e.Event) -> e.Event:
    """The copy of an `all` event that participants get: reasons stay with staff."""
    if isinstance(event, e.Removed) and event.reason:
        return msgspec.structs.replace(event, reason="")
    return event


def participant_view(s: RoomState, me: str) -> ParticipantView:
    m = s.members.get(me)
    status = m.status if m is not None else "absent"
    inside = status == "present"
    v = ParticipantView(room=s.room, title=s.title, agreement=s.agreement, phase=s.phase, seq=s.seq,
                        me=me, status=status, agreed=bool(m and m.agreed),
                        checked_in=bool(m and m.location))
    if not inside:
        return v
    v.present = [PersonView(id=x.id, name=x.name, role=x.role) for x in s.members.values()
                 if x.status == "present"]
    v.queue = list(s.queue)
    v.speaker, v.turn_ends = s.speaker, s.turn_ends
    v.go_around = list(s.go_around) if s.go_around is not None else None
    v.breakouts = "open" if s.breakouts == "open" else "none"
    v.breakouts_ends = s.breakouts_ends if s.breakouts == "open" else None
    if s.breakouts == "open" and m.breakout:
        v.my_room = m.breakout
        v.room_members = list(s.rooms[m.breakout - 1])
    for p in s.polls.values():
        if p.state == "draft":
            continue
        pv = PollView(id=p.id, question=p.question, kind=p.kind, options=p.options, min=p.min,
                      max=p.max, anonymous=p.anonymous, state=p.state,
                      mine=list(p.answers.get(me, [])))
        if p.shared:
            pv.results, pv.total = tally(p)
        v.polls.append(pv)
    v.timers = {k: t for k, t in s.timers.items()}
    v.agenda, v.agenda_index, v.agenda_started = list(s.agenda), s.agenda_index, s.agenda_started
    v.chat = [c for c in s.chat if c.to == "all" and (c.room == 0 or c.room == m.breakout)
              or c.to == me or (c.by == me)]
    v.my_help = [h for h in s.help.values() if h.person == me]
    v.muted = me in s.muted
    v.floor_held = s.floor_held
    return v
