"""`evolve_view`: a participant's picture of the room, kept up to date event by event.

`participant_view(state, me)` computes what one participant may see from the whole
room; `evolve_view(view, event, at, seq)` folds one event that participant received
into that picture, without the room. Folding a participant's stream from any welcome
gives exactly `participant_view` of the server's state at that seq
(tests/test_view_fold.py checks it over every scenario and every participant). The
terminal client calls it; the page's JavaScript fold (server/web/static/js/mirror.js)
is its translation, held to the same views over the same scenarios, on the whole view,
from the JSON frames the page is sent (the same test file, under Node).

The room's own fold (`evolve`) cannot serve here: it needs the whole room (waiting
room, talk times, other people's answers) that a participant never receives. Where
a rule is the same in both (where a raised hand goes, trimming the go-around when a
turn starts, the timers and the agenda) it is the room's rule, applied to the view.

It mutates and returns `view`, like `evolve`. Events a participant cannot receive are
ignored; so are those about things the view does not hold.

Who could hear what is decided once, by `hearing.hears`, before an event is sent; so a
view keeps every line it is given (a breakout room's chat after the rooms close too),
stamped with its round and seq as the room stamps them, because a fresh view judges
each line by them (server/engine/views.py).
"""
from __future__ import annotations

from typing import Callable

from protocol import events as e
from protocol.state import BroadcastLine, ChatLine, Help, ParticipantView, PersonView, PollView, SurveyView
from server.engine.conversation import CHAT_KEPT
from server.engine.timers import EVOLVERS as _TIMER_FOLD

ROLE_RANK = {"facilitator": 0, "cofacilitator": 1, "observer": 2, "participant": 3}


def person_order(p: PersonView) -> tuple:
    """The one order of `present`, in `participant_view` and here: staff first, then by name.
    (The room's member order is the order they became known, which a participant cannot see.)"""
    return ROLE_RANK.get(p.role, 9), p.name.casefold(), p.id


def outside(view: ParticipantView) -> ParticipantView:
    """What someone not in the room (waiting, left, removed, denied) may see: only their own
    status, and their own calls for help (the waiting room can call too)."""
    return ParticipantView(room=view.room, title=view.title, agreement=view.agreement, phase=view.phase,
                           seq=view.seq, me=view.me, status=view.status, agreed=view.agreed,
                           checked_in=view.checked_in, my_help=view.my_help)


def evolve_view(view: ParticipantView, event: e.Event, at: float, seq: int | None = None) -> ParticipantView:
    if seq is not None:
        view.seq = seq
    timer = _TIMER_FOLD.get(type(event))
    if timer is not None:
        try:
            timer(view, event, at)      # timers and agenda read alike in the view and the room
        except KeyError:
            pass                        # a timer this view never saw start
        return view
    fn = _FOLD.get(type(event))
    if fn is not None:
        fn(view, event, at)
    fn = _FOLD_SEQ.get(type(event))
    if fn is not None:
        fn(view, event, at, view.seq)       # what the view keeps by the event's seq
    if view.status not in INSIDE:
        return outside(view)
    return view


# Not in the room, one sees only one's own status. A dropped participant keeps the
# room's picture: nobody is connected to see it while
# dropped, and a resume brings the events missed, their own `dropped` and `returned`
# among them, to fold on top of it.
INSIDE = ("present", "dropped")


# --- who is here --------------------------------------------------------------------

def _add(v: ParticipantView, pid: str, name: str, role: str) -> None:
    v.present = [p for p in v.present if p.id != pid]
    v.present.append(PersonView(id=pid, name=name, role=role))
    v.present.sort(key=person_order)


def _gone(v: ParticipantView, pid: str) -> None:
    v.present = [p for p in v.present if p.id != pid]
    v.queue = [q for q in v.queue if q != pid]
    if v.go_around is not None:
        v.go_around = [q for q in v.go_around if q != pid]


def _arrived(v: ParticipantView, ev, at) -> None:
    if ev.person == v.me:
        v.status = "present"
    known = next((p.name for p in v.present if p.id == ev.person), "")
    _add(v, ev.person, ev.name or known, "participant")


def _own(status: str) -> Callable:
    def fold(v: ParticipantView, ev, at) -> None:
        if ev.person == v.me:
            v.status = status
    return fold


def _left(status: str) -> Callable:
    def fold(v: ParticipantView, ev, at) -> None:
        _gone(v, ev.person)
        if ev.person == v.me:
            v.status = status
    return fold


def _dropped(v: ParticipantView, ev: e.Dropped, at) -> None:
    # a dropped person keeps their place in line and in the go-around for when they return
    v.present = [p for p in v.present if p.id != ev.person]
    if ev.person == v.me:
        v.status = "dropped"


def _waiting_left(v: ParticipantView, ev, at) -> None:
    if ev.person == v.me and v.status == "waiting":
        v.status = "absent"


def _closed(v: ParticipantView, ev, at) -> None:
    v.phase = "closed"
    v.queue = []
    if v.status == "present":
        v.status = "left"


def _flag(name: str) -> Callable:
    def fold(v: ParticipantView, ev, at) -> None:
        if ev.person == v.me:
            setattr(v, name, True)
    return fold


# --- speaking -----------------------------------------------------------------------

def _hand_raised(v: ParticipantView, ev: e.HandRaised, at) -> None:
    if ev.person not in v.queue:
        # the event says where the hand went (by talk time in "fair" mode)
        pos = ev.position - 1 if ev.position > 0 else len(v.queue)
        v.queue.insert(min(pos, len(v.queue)), ev.person)


def _hand_lowered(v: ParticipantView, ev, at) -> None:
    v.queue = [q for q in v.queue if q != ev.person]


def _turn_started(v: ParticipantView, ev: e.TurnStarted, at) -> None:
    v.speaker, v.turn_ends = ev.person, ev.ends_at
    v.queue = [q for q in v.queue if q != ev.person]
    if v.go_around and ev.person in v.go_around:
        # as in the room: people skipped on the way leave the round too
        del v.go_around[: v.go_around.index(ev.person) + 1]


def _turn_ended(v: ParticipantView, ev, at) -> None:
    v.speaker = v.turn_ends = None


def _queue_moved(v: ParticipantView, ev: e.QueueMoved, at) -> None:
    q = [x for x in v.queue if x != ev.person]
    q.insert(ev.position - 1, ev.person)
    v.queue = q


def _queue_mode_set(v: ParticipantView, ev: e.QueueModeSet, at) -> None:
    v.queue_mode = ev.mode
    if ev.queue is not None:
        v.queue = list(ev.queue)


def _go_around_started(v: ParticipantView, ev, at) -> None:
    v.go_around = list(ev.order)


def _go_around_ended(v: ParticipantView, ev, at) -> None:
    v.go_around = None


# --- breakouts ----------------------------------------------------------------------

def _breakouts_opened(v: ParticipantView, ev: e.BreakoutsOpened, at) -> None:
    v.breakouts, v.breakouts_ends, v.round = "open", ev.ends_at, ev.round
    v.rooms = [list(r) for r in ev.rooms]
    v.my_room = next((i for i, r in enumerate(v.rooms, 1) if v.me in r), None)
    v.room_members = list(v.rooms[v.my_room - 1]) if v.my_room else []
    v.broadcasts = []


def _breakout_moved(v: ParticipantView, ev: e.BreakoutMoved, at) -> None:
    if v.breakouts != "open":
        return                  # a draft move: staff only
    for r in v.rooms:           # the room's own rule (breakouts._moved), on the view's rooms
        if ev.person in r:
            r.remove(ev.person)
    while len(v.rooms) < ev.room:
        v.rooms.append([])
    v.rooms[ev.room - 1].append(ev.person)
    if ev.person == v.me:
        v.my_room = ev.room     # what they heard in the old room stays theirs (the room's `hears`)
    if v.my_room:
        v.room_members = list(v.rooms[v.my_room - 1])


def _breakouts_warning(v: ParticipantView, ev, at) -> None:
    v.breakouts_ends = ev.ends_at


def _breakouts_broadcast(v: ParticipantView, ev: e.BreakoutsBroadcast, at, seq: int) -> None:
    if v.breakouts == "open":
        v.broadcasts.append(BroadcastLine(text=ev.text, at=at, seq=seq))


def _breakouts_closed(v: ParticipantView, ev, at) -> None:
    # the chat of the rooms stays: a line is theirs if they could hear it when it was said
    v.breakouts, v.my_room, v.room_members, v.breakouts_ends, v.round = "none", None, [], None, 0
    v.rooms, v.broadcasts = [], []


def _help_requested(v: ParticipantView, ev: e.HelpRequested, at) -> None:
    if ev.person == v.me and not any(h.help_id == ev.help_id for h in v.my_help):
        v.my_help.append(Help(help_id=ev.help_id, person=ev.person, room=ev.room, text=ev.text, at=at,
                              round=ev.round))


def _help_acknowledged(v: ParticipantView, ev, at) -> None:
    for h in v.my_help:
        if h.help_id == ev.help_id:
            h.acknowledged_by = ev.by


# --- polls and chat -----------------------------------------------------------------

def _poll(v: ParticipantView, pid: str) -> PollView | None:
    return next((p for p in v.polls if p.id == pid), None)


def _poll_opened(v: ParticipantView, ev: e.PollOpened, at) -> None:
    p = _poll(v, ev.id)
    if p is None:
        p = PollView(id=ev.id, question=ev.question, kind=ev.kind, options=list(ev.options),
                     min=ev.min, max=ev.max, anonymous=ev.anonymous)
        v.polls.append(p)
    p.state = "open"


def _vote_cast(v: ParticipantView, ev: e.VoteCast, at) -> None:
    p = _poll(v, ev.id)
    if p is not None and ev.person == v.me:
        p.mine = list(ev.keys)


def _poll_closed(v: ParticipantView, ev, at) -> None:
    p = _poll(v, ev.id)
    if p is not None:
        p.state = "closed"


def _poll_shared(v: ParticipantView, ev: e.PollShared, at) -> None:
    p = _poll(v, ev.id)
    if p is not None:
        p.results, p.total = dict(ev.counts), ev.total


def _chat_posted(v: ParticipantView, ev: e.ChatPosted, at, seq: int) -> None:
    # as the room keeps it (conversation._chat): a breakout line of a record from before
    # rounds had numbers belongs to the round open then
    round_ = ev.round or (v.round if ev.room else 0)
    v.chat.append(ChatLine(by=ev.by, name=ev.name, to=ev.to, text=ev.text, room=ev.room, at=at,
                           round=round_, seq=seq))
    if len(v.chat) > CHAT_KEPT:
        del v.chat[: len(v.chat) - CHAT_KEPT]


def _staff_entered(v: ParticipantView, ev: e.StaffEntered, at) -> None:
    _add(v, ev.person, ev.name, ev.role)


def _staff_left(v: ParticipantView, ev, at) -> None:
    v.present = [p for p in v.present if p.id != ev.person]


def _opened(v: ParticipantView, ev, at) -> None:
    v.phase = "open"


def _mic(muted: bool) -> Callable:
    def fold(v: ParticipantView, ev, at) -> None:
        if ev.person == v.me:        # a held mute reaches only its target (and staff)
            v.muted = muted
    return fold


def _floor_held(v: ParticipantView, ev: e.FloorHeld, at) -> None:
    v.floor_held = ev.on


# --- the satisfaction survey ---------------------------------------------------------

def _survey_opened(v: ParticipantView, ev: e.SurveyOpened, at) -> None:
    if v.survey is None:
        v.survey = SurveyView(items=list(ev.items), low=ev.low, high=ev.high, comment=ev.comment)
    v.survey.state = "open"


def _survey_answered(v: ParticipantView, ev: e.SurveyAnswered, at) -> None:
    if v.survey is not None and ev.person == v.me:
        v.survey.answered = True


def _survey_closed(v: ParticipantView, ev, at) -> None:
    if v.survey is not None:
        v.survey.state = "closed"


_FOLD: dict[type, Callable] = {
    e.SessionOpened: _opened, e.SessionClosed: _closed,
    e.StaffEntered: _staff_entered, e.StaffLeft: _staff_left,
    e.ParticipantWaiting: _own("waiting"), e.WaitingLeft: _waiting_left,
    e.AgreementAccepted: _flag("agreed"), e.LocationCheckedIn: _flag("checked_in"),
    e.Admitted: _arrived, e.Returned: _arrived, e.Denied: _own("denied"),
    e.Removed: _left("removed"), e.Left: _left("left"), e.Dropped: _dropped,
    e.HandRaised: _hand_raised, e.HandLowered: _hand_lowered, e.TurnStarted: _turn_started,
    e.TurnEnded: _turn_ended, e.QueueMoved: _queue_moved, e.QueueModeSet: _queue_mode_set,
    e.GoAroundStarted: _go_around_started, e.GoAroundEnded: _go_around_ended,
    e.BreakoutsOpened: _breakouts_opened, e.BreakoutMoved: _breakout_moved,
    e.BreakoutsWarning: _breakouts_warning,
    e.BreakoutsClosed: _breakouts_closed, e.HelpRequested: _help_requested,
    e.HelpAcknowledged: _help_acknowledged,
    e.PollOpened: _poll_opened, e.VoteCast: _vote_cast, e.PollClosed: _poll_closed,
    e.PollShared: _poll_shared,
    e.MicMuted: _mic(True), e.MicUnmuted: _mic(False), e.FloorHeld: _floor_held,
    e.SurveyOpened: _survey_opened, e.SurveyAnswered: _survey_answered, e.SurveyClosed: _survey_closed,
}
# the lines a fresh view judges one by one, by who could hear them at their seq
_FOLD_SEQ: dict[type, Callable] = {e.BreakoutsBroadcast: _breakouts_broadcast, e.ChatPosted: _chat_posted}
