"""Who sees what: audience membership, participant redaction, the participant view.

The record keeps everything; these functions decide what leaves the server
for whom. Participants see display names, their own status and answers,
chat meant for them and shared results; never notes, flags, locations,
alerts, the waiting room, other people's answers or attendance.
"""
from __future__ import annotations

import msgspec

from protocol import events as e
from protocol.state import ChatLine, ParticipantView, PersonView, PollView, RoomState, SurveyView
from server.engine.hearing import breakout_aud, hears
from server.engine.polls import tally
from server.engine.view_fold import person_order


def _line_aud(line: ChatLine) -> str:
    if not line.room:
        return "all"
    return breakout_aud(line.round, line.room) if line.round else f"b:{line.room}"


def for_participants(event: e.Event) -> e.Event:
    """The copy of an event that participants get: reasons stay with staff, and so do
    survey answers (the one who answered gets their own `survey_answered` emptied)."""
    if isinstance(event, e.Removed) and event.reason:
        return msgspec.structs.replace(event, reason="")
    if isinstance(event, e.SurveyAnswered) and (event.ratings or event.comment):
        # answers are for the facilitators: the one who answered learns only that they did
        return msgspec.structs.replace(event, ratings=[], comment="")
    if isinstance(event, e.BreakoutsOpened) and (event.override or event.overridden):
        # who must be kept apart or together is clinical: participants never learn the rules
        return msgspec.structs.replace(event, override=False, overridden=[])
    return event


def participant_view(s: RoomState, me: str) -> ParticipantView:
    m = s.members.get(me)
    status = m.status if m is not None else "absent"
    inside = status == "present"
    v = ParticipantView(room=s.room, title=s.title, agreement=s.agreement, phase=s.phase, seq=s.seq,
                        me=me, status=status, agreed=bool(m and m.agreed),
                        checked_in=bool(m and m.location))
    # their own calls for help, from wherever they were (the waiting room can call too)
    v.my_help = [h for h in s.help.values() if h.person == me]
    if not inside:
        return v
    v.present = sorted((PersonView(id=x.id, name=x.name, role=x.role) for x in s.members.values()
                        if x.status == "present"), key=person_order)
    v.queue, v.queue_mode = list(s.queue), s.queue_mode
    v.speaker, v.turn_ends = s.speaker, s.turn_ends
    v.go_around = list(s.go_around) if s.go_around is not None else None
    v.breakouts = "open" if s.breakouts == "open" else "none"
    v.breakouts_ends = s.breakouts_ends if s.breakouts == "open" else None
    v.round = s.round if s.breakouts == "open" else 0
    if s.breakouts == "open" and m.breakout:
        v.my_room = m.breakout
        v.room_members = list(s.rooms[m.breakout - 1])
    if s.breakouts == "open":
        v.rooms = [list(r) for r in s.rooms]
        # to the round's rooms (`b:<round>:*`): not to the main room, nor to those who came later
        v.broadcasts = [b for b in s.broadcasts
                        if hears(breakout_aud(s.round, "*"), b.seq, me, "participant", m)]
    for p in s.polls.values():
        if p.state == "draft":
            continue
        if p.state == "closed" and not hears("all", p.closed_seq, me, "participant", m):
            continue        # over before they came in (or while they were away): not theirs to see

        pv = PollView(id=p.id, question=p.question, kind=p.kind, options=p.options, min=p.min,
                      max=p.max, anonymous=p.anonymous, state=p.state,
                      mine=list(p.answers.get(me, [])))
        if p.shared:
            pv.results, pv.total = tally(p)
        v.polls.append(pv)
    v.timers = {k: t for k, t in s.timers.items()}
    v.agenda, v.agenda_index, v.agenda_started = list(s.agenda), s.agenda_index, s.agenda_started
    # each line judged by who could hear it when it was said, never by where the
    # person is now: room numbers come round again, and a late joiner was not there
    v.chat = [c for c in s.chat if c.to == me or c.by == me
              or c.to == "all" and hears(_line_aud(c), c.seq, me, "participant", m)]
    v.muted = me in s.muted
    v.floor_held = s.floor_held
    sv = s.survey
    if sv is not None and (sv.state == "open" or hears("all", sv.closed_seq, me, "participant", m)):
        v.survey = SurveyView(items=list(sv.items), low=sv.low, high=sv.high, comment=sv.comment,
                              state=sv.state, answered=me in sv.ratings)
    return v
