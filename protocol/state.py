"""The room as it stands: the snapshot a client receives in its welcome.

`RoomState` is what facilitators see (everything the fold knows);
`ParticipantView` is the reduced picture a participant may see. Both are
plain data so they encode like any other message; the fold that builds
`RoomState` lives in `server.engine`.

Every protocol struct is `gc=False`: made of data only, none can be part of a
reference cycle, and a server holding a thousand rooms' states and histories
should not have the cyclic collector walk each chat line and member over and
over (see server/pauses.py). A struct that ever needs to point back at its
owner must drop `gc=False`.
"""
from __future__ import annotations

from msgspec import Struct, field

from protocol.commands import AgendaItem


class FlagMark(Struct, kw_only=True, gc=False):
    level: str
    reason: str
    by: str
    at: float
    cleared_at: float | None = None    # resolved by a flag_clear; kept, not deleted
    cleared_by: str | None = None


class NoteEntry(Struct, kw_only=True, gc=False):
    target: str
    text: str
    by: str
    at: float


class Member(Struct, kw_only=True, gc=False):
    """A person the room knows: on the roster or having come in."""
    id: str
    name: str
    role: str = "participant"
    expected: bool = False
    together: list[str] = []
    apart: list[str] = []
    # absent | waiting | present | dropped | left | removed | denied
    status: str = "absent"
    agreed: bool = False
    location: str | None = None
    admitted: bool = False            # admitted at least once this session
    order: int = 0                    # rank of first admission (go-around default order)
    first_joined: float | None = None  # first admission
    # arrival: the first of knocking (entering the waiting room) and being admitted;
    # lateness runs from the open to here, so time kept waiting is not lateness
    arrived_at: float | None = None
    waiting_since: float | None = None  # start of the waiting-room interval now counting
    waited: float = 0.0                # seconds of waiting-room intervals already closed
    removed_at: float | None = None
    last_left: float | None = None
    # when they last said `leave`, in the room or in the waiting room (a drop is not a leave):
    # a device credential issued before it opens nothing, on any server (server/tokens.py)
    chose_to_leave: float | None = None
    device: str | None = None          # the device id that holds their place (device_issued)
    present_since: float | None = None  # start of the interval now counting
    attended: float = 0.0              # seconds of intervals already closed
    drop_at: float | None = None
    drop_overdue: bool = False
    drops: int = 0
    excused: str | None = None
    hand_at: float | None = None
    talk: float = 0.0
    breakout: int | None = None
    listening: int | None = None       # staff listening in to a breakout room
    flags: list[FlagMark] = []
    # Who could hear what, by seq (see server/engine/hearing.py): the spans in
    # which a participant was in the room, [after seq, through seq] (0: still
    # open), and their breakout stays, [round, room, after seq, through seq].
    inside: list[list[int]] = []
    stays: list[list[int]] = []
    voice_talk: float = 0.0            # seconds of measured speech (facilitators' eyes only)
    talking_since: float | None = None


class Poll(Struct, kw_only=True, gc=False):
    id: str
    question: str
    kind: str
    options: list[str] = []
    min: int | None = None
    max: int | None = None
    anonymous: bool = False
    alert_at_or_below: int | None = None   # named scale polls: a low score alerts the staff
    state: str = "draft"               # draft | open | closed
    shared: bool = False
    # named polls: the latest answer per participant (facilitators only)
    answers: dict[str, list[str]] = {}
    scores: dict[str, list[int]] = {}
    # anonymous polls: tallies and the seals of ballots cast
    tally: dict[str, int] = {}
    ballots: int = 0
    seals: list[str] = []
    closed_seq: int = 0                # the seq of its latest close: a fresh view shows it to those in the room then


class Survey(Struct, kw_only=True, gc=False):
    """The end-of-session satisfaction survey: its wording, and each participant's answers
    (facilitators only; a participant's view says only whether they answered)."""
    items: list[str] = []
    low: str = ""
    high: str = ""
    comment: str = ""
    state: str = "open"                # open | closed
    opened_at: float = 0.0
    ratings: dict[str, list[int]] = {}
    comments: dict[str, str] = {}      # free text, like chat: never in logs
    closed_seq: int = 0                # as a poll's: a fresh view shows it to those in the room then


class SurveyView(Struct, kw_only=True, gc=False):
    items: list[str] = []
    low: str = ""
    high: str = ""
    comment: str = ""
    state: str = "open"
    answered: bool = False


class Timer(Struct, kw_only=True, gc=False):
    id: str
    label: str = ""
    seconds: float = 0.0
    state: str = "running"             # running | paused | expired | cancelled
    ends_at: float | None = None       # while running
    remaining: float = 0.0             # while paused (and frozen when it ends)
    warned: bool = False
    ended_at: float | None = None      # when it expired or was cancelled


class Help(Struct, kw_only=True, gc=False):
    help_id: int
    person: str
    room: int
    text: str
    at: float
    acknowledged_by: str | None = None
    round: int = 0      # the breakout round of `room` (0 for the main room)


class ChatLine(Struct, kw_only=True, gc=False):
    by: str
    name: str
    to: str
    text: str
    room: int
    at: float
    round: int = 0      # the breakout round of `room` (0 for the main room)
    seq: int = 0        # the event's seq: a fresh view shows a line only to those who could hear it then


class BroadcastLine(Struct, kw_only=True, gc=False):
    """A message from the facilitators to every breakout room, kept while the rooms are open."""
    text: str
    at: float
    seq: int = 0        # the event's seq: a fresh view shows it only to those in a room of the round then


class Alert(Struct, kw_only=True, gc=False):
    """An item in the facilitators' feed."""
    kind: str      # help | check_in | flag | drop_overdue
    person: str
    text: str
    at: float


class RoomState(Struct, tag="room", tag_field="kind", kw_only=True, gc=False):
    room: str
    title: str = ""
    capacity: int = 12
    agreement: str = ""
    auto_admit: bool = False
    drop_grace: int = 120
    agenda: list[AgendaItem] = []
    program: str = ""                  # a program's session: the program's id and the local date
    date: str = ""
    phase: str = "setup"               # setup | open | closed
    opened_at: float | None = None
    closed_at: float | None = None
    seq: int = 0
    at: float = 0.0                    # instant of the last event folded
    members: dict[str, Member] = {}
    joins: int = 0
    queue: list[str] = []
    queue_mode: str = "fifo"
    speaker: str | None = None
    turn_started: float | None = None
    turn_ends: float | None = None
    go_around: list[str] | None = None  # people still to speak, in order
    go_around_seconds: int = 0
    breakouts: str = "none"            # none | draft | open
    rooms: list[list[str]] = []
    breakouts_ends: float | None = None
    breakouts_warned: bool = False
    round: int = 0                     # breakout rounds opened so far; the open one while open
    broadcasts: list[BroadcastLine] = []
    polls: dict[str, Poll] = {}
    timers: dict[str, Timer] = {}
    agenda_index: int | None = None
    agenda_started: float | None = None
    help: dict[int, Help] = {}
    help_count: int = 0
    alerts: list[Alert] = []
    chat: list[ChatLine] = []
    notes: list[NoteEntry] = []
    in_voice: dict[str, int] = {}      # person -> 0 main room, n breakout room n, -n listening to n
    muted: list[str] = []              # held mutes
    floor_held: bool = False
    survey_enabled: bool = False       # its program turns the satisfaction survey on
    survey: Survey | None = None


class PersonView(Struct, kw_only=True, gc=False):
    id: str
    name: str
    role: str


class PollView(Struct, kw_only=True, gc=False):
    id: str
    question: str
    kind: str
    options: list[str] = []
    min: int | None = None
    max: int | None = None
    anonymous: bool = False
    state: str = "draft"
    mine: list[str] = []              # the viewer's own answer
    results: dict[str, int] | None = None
    total: int | None = None


class ParticipantView(Struct, tag="participant", tag_field="kind", kw_only=True, gc=False):
    """What one participant may see: display names, their own status and
    answers, chat meant for them and shared results; never rosters of who is
    absent, other people's answers, notes, flags or locations."""
    room: str
    title: str = ""
    agreement: str = ""
    phase: str = "setup"
    seq: int = 0
    me: str
    status: str = "absent"
    agreed: bool = False
    checked_in: bool = False
    present: list[PersonView] = []    # in `person_order` (server/engine/view_fold.py)
    queue: list[str] = []
    queue_mode: str = "fifo"
    speaker: str | None = None
    turn_ends: float | None = None
    go_around: list[str] | None = None
    breakouts: str = "none"
    my_room: int | None = None
    round: int = 0                     # the open breakout round (0 while none is open)
    room_members: list[str] = []
    # every breakout room while they are open, as `breakouts_opened` tells everyone: a move
    # into another room brings its members without the room being sent again
    rooms: list[list[str]] = []
    breakouts_ends: float | None = None
    broadcasts: list[BroadcastLine] = []
    polls: list[PollView] = []
    timers: dict[str, Timer] = {}
    agenda: list[AgendaItem] = []
    agenda_index: int | None = None
    agenda_started: float | None = None
    chat: list[ChatLine] = []
    my_help: list[Help] = field(default_factory=list)
    muted: bool = False               # a facilitator's mute on this participant holds
    floor_held: bool = False
    survey: SurveyView | None = None  # the satisfaction survey, once asked: only whether they answered
