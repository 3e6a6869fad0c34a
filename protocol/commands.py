"""Commands: requests a person makes of the room.

Each command is a tagged struct; the tag (`do`) is the same word a scenario
script uses, so a scenario step maps onto the wire without translation.
Arguments are validated here only for shape; whether the room allows the
command now is the engine's decision.
"""
from __future__ import annotations

from typing import Literal, Union

from msgspec import Meta, Struct
from typing import Annotated

Id = Annotated[str, Meta(min_length=1, max_length=64)]
Text = Annotated[str, Meta(max_length=2000)]
ShortText = Annotated[str, Meta(max_length=200)]
Seconds = Annotated[int, Meta(ge=1, le=6 * 3600)]


class Command(Struct, tag_field="do", forbid_unknown_fields=True, kw_only=True, gc=False):
    """Base of every command."""


# --- session and admission -------------------------------------------------

class AgendaItem(Struct, forbid_unknown_fields=True, gc=False):
    title: ShortText
    minutes: Annotated[float, Meta(gt=0, le=600)]


class RosterEntry(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    id: Id
    name: ShortText
    role: Literal["facilitator", "cofacilitator", "observer", "participant"] = "participant"
    expected: bool = True
    together: list[Id] = []
    apart: list[Id] = []


class Configure(Command, tag="configure"):
    """Sets the room up before (or while) it runs: title, rules, agenda, roster."""
    title: ShortText = ""
    capacity: Annotated[int, Meta(ge=1, le=15)] = 12
    agreement: Text = ""
    auto_admit: bool = False
    drop_grace: Annotated[int, Meta(ge=0, le=3600)] = 120
    agenda: list[AgendaItem] = []
    roster: list[RosterEntry] = []
    # a session run from a program: which one, and its local date (YYYY-MM-DD); "" for a lone room
    program: Annotated[str, Meta(max_length=64)] = ""
    date: Annotated[str, Meta(pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = ""
    # the end-of-session satisfaction survey may be run (a program turns it on)
    survey: bool = False


class Open(Command, tag="open"):
    pass


class Close(Command, tag="close"):
    pass


class AcceptAgreement(Command, tag="accept_agreement"):
    pass


class ShareLocation(Command, tag="check_in"):
    """Where the participant is, for the duty of care (telehealth rules): staff alone see it.
    On the wire and in scenarios it keeps its first name, `check_in`; in the code "check-in"
    is the agenda's opening go-around, and a questionnaire's alert is a QuestionnaireAlert."""
    location: Annotated[str, Meta(min_length=1, max_length=300)]


class Admit(Command, tag="admit"):
    target: Id


class Deny(Command, tag="deny"):
    target: Id


class Remove(Command, tag="remove"):
    target: Id
    reason: Text = ""


class Excuse(Command, tag="excuse"):
    target: Id
    reason: Text = ""


class Leave(Command, tag="leave"):
    pass


# --- speaking queue ----------------------------------------------------------

class RaiseHand(Command, tag="raise_hand"):
    pass


class LowerHand(Command, tag="lower_hand"):
    target: Id | None = None


class NextSpeaker(Command, tag="next_speaker"):
    pass


class CallOn(Command, tag="call_on"):
    target: Id


class EndTurn(Command, tag="end_turn"):
    pass


class MoveInQueue(Command, tag="move_in_queue"):
    target: Id
    position: Annotated[int, Meta(ge=1)]


class QueueMode(Command, tag="queue_mode"):
    mode: Literal["fifo", "fair"]


class GoAround(Command, tag="go_around"):
    seconds: Seconds
    order: list[Id] | None = None


class Pass(Command, tag="pass"):
    pass


# --- breakouts ---------------------------------------------------------------

class BreakoutsPlan(Command, tag="breakouts_plan"):
    rooms: Annotated[int, Meta(ge=1, le=15)] | None = None
    size: Annotated[int, Meta(ge=1, le=15)] | None = None
    seed: int | None = None
    together: list[list[Id]] = []
    apart: list[list[Id]] = []


class BreakoutsMove(Command, tag="breakouts_move"):
    target: Id
    room: Annotated[int, Meta(ge=1, le=15)]


class BreakoutsOpen(Command, tag="breakouts_open"):
    minutes: Annotated[float, Meta(gt=0, le=240)]
    # A draft that breaks a keep-together or keep-apart rule is refused
    # (`conflict`, naming the rule) unless the facilitator overrides it knowingly.
    override: bool = False


class BreakoutsRule(Command, tag="breakouts_rule"):
    """Keep two participants together (or apart) in breakouts, or drop that rule."""
    kind: Literal["together", "apart"]
    target: Id
    other: Id
    remove: bool = False


class BreakoutsBroadcast(Command, tag="breakouts_broadcast"):
    text: Annotated[str, Meta(min_length=1, max_length=2000)]


class BreakoutsClose(Command, tag="breakouts_close"):
    pass


class ListenIn(Command, tag="listen_in"):
    """A facilitator joins a breakout room to listen (room 0: back to the main room)."""
    room: Annotated[int, Meta(ge=0, le=15)]


class HelpRequest(Command, tag="help_request"):
    text: Text = ""


class HelpAcknowledge(Command, tag="help_ack"):
    help_id: Annotated[int, Meta(ge=1)]


# --- polls -------------------------------------------------------------------

PollKind = Literal["single", "multi", "scale", "phq2", "gad2"]


class PollCreate(Command, tag="poll_create"):
    id: Id
    question: Text = ""
    kind: PollKind = "single"
    options: list[ShortText] = []
    min: int | None = None
    max: int | None = None
    anonymous: bool = False
    # named scale polls (a mood check-in): a vote at or below this alerts the facilitators
    alert_at_or_below: int | None = None


class PollOpen(Command, tag="poll_open"):
    id: Id


class PollClose(Command, tag="poll_close"):
    id: Id


class PollShare(Command, tag="poll_share"):
    id: Id


class Vote(Command, tag="vote"):
    id: Id
    choice: Annotated[int, Meta(ge=0, le=100)] | ShortText | None = None
    choices: list[Annotated[int, Meta(ge=0, le=100)] | ShortText] | None = None
    value: int | None = None
    answers: list[Annotated[int, Meta(ge=0, le=3)]] | None = None


# --- timers and agenda -------------------------------------------------------

class TimerStart(Command, tag="timer_start"):
    id: Id
    seconds: Seconds | None = None
    minutes: Annotated[float, Meta(gt=0, le=360)] | None = None
    label: ShortText = ""


class TimerPause(Command, tag="timer_pause"):
    id: Id


class TimerResume(Command, tag="timer_resume"):
    id: Id


class TimerCancel(Command, tag="timer_cancel"):
    id: Id


class TimerExtend(Command, tag="timer_extend"):
    id: Id
    seconds: Annotated[int, Meta(ge=-3600, le=3600)]


class AgendaNext(Command, tag="agenda_next"):
    pass


# --- chat, notes, flags ------------------------------------------------------

class Chat(Command, tag="chat"):
    text: Annotated[str, Meta(min_length=1, max_length=2000)]
    to: Id = "all"


class Note(Command, tag="note"):
    target: Id
    text: Annotated[str, Meta(min_length=1, max_length=4000)]


class Flag(Command, tag="flag"):
    target: Id
    level: Literal["watch", "urgent"]
    reason: Text = ""


# --- added after the first release: kept last so merges stay simple -----------

class GoAroundStop(Command, tag="go_around_stop"):
    """Ends a running go-around early; the current speaker's turn ends with it."""


class AgendaGoto(Command, tag="agenda_goto"):
    """Moves the agenda to any segment, back as well as forward (0-based)."""
    index: Annotated[int, Meta(ge=0, le=200)]


class FlagClear(Command, tag="flag_clear"):
    """Resolves a person's open risk flags; the record keeps the flags and who cleared them."""
    target: Id
    reason: Text = ""


# --- voice (Janus carries the media; these are what the record keeps of it) ------

class VoiceJoin(Command, tag="voice_join"):
    """The person's page joined the room's voice (sent by the media relay on their behalf).
    Staff may listen to a breakout room instead: they hear it and are not heard."""
    listen: Annotated[int, Meta(ge=1, le=15)] | None = None


class VoiceLeave(Command, tag="voice_leave"):
    person: Id | None = None      # the server, when it takes someone out of voice


class MuteMic(Command, tag="mute"):
    """A mute that holds: the media server stops the person's audio until unmuted."""
    target: Id


class UnmuteMic(Command, tag="unmute"):
    target: Id


class HoldFloor(Command, tag="hold_floor"):
    """While on, only the current speaker and staff are heard."""
    on: bool


class VoiceActivity(Command, tag="voice_activity"):
    """Speech measured by the media server (the relay reports it as the server)."""
    person: Id
    talking: bool


# --- the end-of-session satisfaction survey (the items are the engine's: server/engine/survey.py) ---

Rating = Annotated[int, Meta(ge=1, le=5)]


class SurveyOpen(Command, tag="survey_open"):
    """Asks everyone present to answer the short satisfaction survey (near the close)."""


class SurveyAnswer(Command, tag="survey_answer"):
    """A participant's answers: one rating from 1 to 5 per item, in order, and an optional comment."""
    ratings: Annotated[list[Rating], Meta(max_length=10)]
    comment: Annotated[str, Meta(max_length=1000)] = ""


class SurveyClose(Command, tag="survey_close"):
    pass


AnyCommand = Union[
    Configure, Open, Close, AcceptAgreement, ShareLocation, Admit, Deny, Remove, Excuse, Leave,
    RaiseHand, LowerHand, NextSpeaker, CallOn, EndTurn, MoveInQueue, QueueMode, GoAround, Pass,
    BreakoutsPlan, BreakoutsMove, BreakoutsOpen, BreakoutsBroadcast, BreakoutsClose, ListenIn,
    BreakoutsRule, HelpRequest, HelpAcknowledge,
    PollCreate, PollOpen, PollClose, PollShare, Vote,
    TimerStart, TimerPause, TimerResume, TimerCancel, TimerExtend, AgendaNext,
    Chat, Note, Flag,
    GoAroundStop, AgendaGoto, FlagClear,
    VoiceJoin, VoiceLeave, MuteMic, UnmuteMic, HoldFloor, VoiceActivity,
    SurveyOpen, SurveyAnswer, SurveyClose,
]

COMMAND_TYPES: dict[str, type[Command]] = {
    t.__struct_config__.tag: t for t in AnyCommand.__args__  # type: ignore[attr-defined]
}
