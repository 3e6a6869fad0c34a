"""Events: facts in the past tense, the only thing the record stores.

An event carries no time and no sequence number of its own: the envelope
(`protocol.frames.EventFrame`) adds the room's seq, the instant and the
audience, so that the same fact is encoded once however it travels.
"""
from __future__ import annotations

from typing import Union

from msgspec import Struct

from protocol.commands import AgendaItem, RosterEntry


class Event(Struct, tag_field="type", kw_only=True, gc=False):
    """Base of every event.

    Events are immutable facts made of plain data, so they can never be part
    of a reference cycle: `gc=False` keeps them out of the cyclic collector,
    which would otherwise walk every event a server keeps for resume."""


# --- session, admission, presence -------------------------------------------

class RoomConfigured(Event, tag="room_configured"):
    title: str = ""
    capacity: int = 12
    agreement: str = ""
    auto_admit: bool = False
    drop_grace: int = 120
    agenda: list[AgendaItem] = []
    roster: list[RosterEntry] = []
    program: str = ""                  # the program this session belongs to, if any
    date: str = ""                     # its local date in the program's time zone
    survey: bool = False               # the satisfaction survey may be run (its program turns it on)


class SessionOpened(Event, tag="session_opened"):
    pass


class SessionClosed(Event, tag="session_closed"):
    pass


class StaffEntered(Event, tag="staff_entered"):
    person: str
    name: str
    role: str


class StaffLeft(Event, tag="staff_left"):
    person: str
    dropped: bool = False


class ParticipantWaiting(Event, tag="participant_waiting"):
    """A participant knocked; only facilitators see the waiting room."""
    person: str
    name: str


class WaitingLeft(Event, tag="waiting_left"):
    person: str
    by_choice: bool = False     # they said `leave`; False: their connection ended while they waited


class AgreementAccepted(Event, tag="agreement_accepted"):
    person: str


class LocationCheckedIn(Event, tag="location_checked_in"):
    person: str
    location: str


class Admitted(Event, tag="admitted"):
    person: str
    name: str
    auto: bool = False


class Denied(Event, tag="denied"):
    person: str


class Removed(Event, tag="removed"):
    person: str
    reason: str = ""


class Excused(Event, tag="excused"):
    person: str
    reason: str = ""


class Left(Event, tag="left"):
    person: str


class Dropped(Event, tag="dropped"):
    person: str


class DeviceIssued(Event, tag="device_issued"):
    """A participant's link was exchanged for a device credential (docs/protocol.md §3):
    `device` is now the one device that holds their place, on every server."""
    person: str
    device: str


class Returned(Event, tag="returned"):
    """An admitted participant is back (after a drop or a leave) without waiting."""
    person: str
    name: str = ""


class DropOverdue(Event, tag="drop_overdue"):
    """The drop grace ran out: the person may be in trouble, not just offline."""
    person: str


# --- speaking queue and go-arounds ------------------------------------------

class HandRaised(Event, tag="hand_raised"):
    """`position` (1 = head) is where the hand was placed: the end in fifo mode,
    by talk time in fair mode. Participants know no talk times, so they are told."""
    person: str
    position: int = 0


class HandLowered(Event, tag="hand_lowered"):
    person: str


class TurnStarted(Event, tag="turn_started"):
    person: str
    ends_at: float | None = None


class TurnEnded(Event, tag="turn_ended"):
    person: str
    passed: bool = False


class QueueMoved(Event, tag="queue_moved"):
    person: str
    position: int


class QueueModeSet(Event, tag="queue_mode_set"):
    mode: str
    queue: list[str] | None = None    # the queue's order after the switch


class GoAroundStarted(Event, tag="go_around_started"):
    order: list[str]
    seconds: int


class GoAroundEnded(Event, tag="go_around_ended"):
    pass


# --- breakouts ---------------------------------------------------------------

class BreakoutsPlanned(Event, tag="breakouts_planned"):
    rooms: list[list[str]]


class BreakoutMoved(Event, tag="breakout_moved"):
    person: str
    room: int


class BreakoutsOpened(Event, tag="breakouts_opened"):
    rooms: list[list[str]]
    ends_at: float
    # Which round this is (1, 2, ... in the session). Records made before rounds
    # had a number say 0: the fold then counts the round itself.
    round: int = 0
    # The facilitator opened a draft that breaks these keep-together/keep-apart
    # rules, knowingly: [kind, person id, person id] each. Staff only: the copy
    # participants get has both fields cleared (the rules are clinical).
    override: bool = False
    overridden: list[list[str]] = []


class BreakoutsWarning(Event, tag="breakouts_warning"):
    ends_at: float


class BreakoutsBroadcast(Event, tag="breakouts_broadcast"):
    text: str
    by: str
    round: int = 0         # the round whose rooms it was sent to (0: recorded before rounds had numbers)


class BreakoutsClosed(Event, tag="breakouts_closed"):
    expired: bool = False


class BreakoutRuleChanged(Event, tag="breakout_rule_changed"):
    """A keep-together or keep-apart rule set (or dropped) during the session; staff only."""
    kind: str          # together | apart
    a: str
    b: str
    removed: bool = False


class ListenedIn(Event, tag="listened_in"):
    person: str
    room: int


class HelpRequested(Event, tag="help_requested"):
    help_id: int
    person: str
    room: int
    text: str = ""
    round: int = 0         # with `room`: which round's room the call came from (0: the main room)


class HelpAcknowledged(Event, tag="help_acknowledged"):
    help_id: int
    by: str


# --- polls ---------------------------------------------------------------------

class PollCreated(Event, tag="poll_created"):
    id: str
    question: str
    kind: str
    options: list[str] = []
    min: int | None = None
    max: int | None = None
    anonymous: bool = False
    alert_at_or_below: int | None = None


class PollOpened(Event, tag="poll_opened"):
    id: str
    question: str
    kind: str
    options: list[str] = []
    min: int | None = None
    max: int | None = None
    anonymous: bool = False


class VoteCast(Event, tag="vote_cast"):
    """A named answer: facilitators and the voter see it, nobody else."""
    id: str
    person: str
    keys: list[str]
    answers: list[int] = []


class BallotCast(Event, tag="ballot_cast"):
    """An anonymous ballot. `seal` is a keyed hash that lets the server refuse a
    second ballot but that cannot be linked to a voter without the server's
    secret; the record keeps no voter for it."""
    id: str
    keys: list[str]
    seal: str


class PollClosed(Event, tag="poll_closed"):
    id: str


class PollShared(Event, tag="poll_shared"):
    id: str
    counts: dict[str, int]
    total: int


class QuestionnaireAlert(Event, tag="check_in_alert"):
    """A questionnaire total at or above its threshold (its tag is the record's, kept as it was)."""
    id: str
    person: str
    kind: str
    total: int


# --- timers and agenda ---------------------------------------------------------

class TimerStarted(Event, tag="timer_started"):
    id: str
    label: str
    seconds: float
    ends_at: float


class TimerPaused(Event, tag="timer_paused"):
    id: str
    remaining: float


class TimerResumed(Event, tag="timer_resumed"):
    id: str
    ends_at: float


class TimerExtended(Event, tag="timer_extended"):
    id: str
    seconds: int


class TimerCancelled(Event, tag="timer_cancelled"):
    id: str


class TimerWarning(Event, tag="timer_warning"):
    id: str


class TimerExpired(Event, tag="timer_expired"):
    id: str


class AgendaAdvanced(Event, tag="agenda_advanced"):
    index: int
    title: str


# --- chat, notes, flags ------------------------------------------------------

class ChatPosted(Event, tag="chat_posted"):
    by: str
    name: str
    to: str
    text: str
    room: int = 0
    round: int = 0         # with `room`: the breakout round it was said in (0: the main room)


class NoteAdded(Event, tag="note_added"):
    by: str
    target: str
    text: str


class Flagged(Event, tag="flagged"):
    by: str
    target: str
    level: str
    reason: str = ""


# --- added after the first release: kept last so merges stay simple -----------

class FlagCleared(Event, tag="flag_cleared"):
    """The person's open flags are resolved (staff only, like the flags)."""
    by: str
    target: str
    reason: str = ""


# --- voice -----------------------------------------------------------------------

class VoiceJoined(Event, tag="voice_joined"):
    person: str
    room: int = 0                 # 0: the main room; n: breakout room n
    listening: bool = False       # staff listening in: they hear the room and are not heard


class VoiceLeft(Event, tag="voice_left"):
    person: str


class MicMuted(Event, tag="mic_muted"):
    person: str
    by: str


class MicUnmuted(Event, tag="mic_unmuted"):
    person: str
    by: str


class FloorHeld(Event, tag="floor_held"):
    on: bool
    by: str


class VoiceTalking(Event, tag="voice_talking"):
    person: str
    talking: bool


# --- the end-of-session satisfaction survey ---------------------------------------

class SurveyOpened(Event, tag="survey_opened"):
    """The survey is asked of everyone; it carries its own wording (the engine's), so every
    client shows the same items without a copy of its own."""
    items: list[str]
    low: str                           # what 1 means
    high: str                          # what 5 means
    comment: str                       # the prompt of the optional free-text comment


class SurveyAnswered(Event, tag="survey_answered"):
    """One participant's answers: to staff, and to that participant with the answers
    cleared (`views.for_participants`): they see only that they answered."""
    person: str
    ratings: list[int] = []
    comment: str = ""


class SurveyClosed(Event, tag="survey_closed"):
    pass


AnyEvent = Union[
    RoomConfigured, SessionOpened, SessionClosed, StaffEntered, StaffLeft,
    ParticipantWaiting, WaitingLeft, AgreementAccepted, LocationCheckedIn, Admitted, Denied,
    Removed, Excused, Left, Dropped, Returned, DropOverdue, DeviceIssued,
    HandRaised, HandLowered, TurnStarted, TurnEnded, QueueMoved, QueueModeSet,
    GoAroundStarted, GoAroundEnded,
    BreakoutsPlanned, BreakoutMoved, BreakoutsOpened, BreakoutsWarning, BreakoutsBroadcast,
    BreakoutsClosed, ListenedIn, HelpRequested, HelpAcknowledged, BreakoutRuleChanged,
    PollCreated, PollOpened, VoteCast, BallotCast, PollClosed, PollShared, QuestionnaireAlert,
    TimerStarted, TimerPaused, TimerResumed, TimerExtended, TimerCancelled, TimerWarning,
    TimerExpired, AgendaAdvanced,
    ChatPosted, NoteAdded, Flagged,
    FlagCleared,
    VoiceJoined, VoiceLeft, MicMuted, MicUnmuted, FloorHeld, VoiceTalking,
    SurveyOpened, SurveyAnswered, SurveyClosed,
]

EVENT_TYPES: dict[str, type[Event]] = {
    t.__struct_config__.tag: t for t in AnyEvent.__args__  # type: ignore[attr-defined]
}
