"""A program (a recurring group) as events, and the pure fold that reads them.

A program lives in the record as a room of its own, `~program:ID`, so that
every change to it sits in the same hash chain as the sessions it runs, and
is audited like them. `evolve_program` is the only reader of those events:
the CLI, the scenario runner, the exports and the console all fold them with
it, so they cannot disagree about who was enrolled when.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal, Union

import msgspec
from msgspec import Struct

from protocol.commands import AgendaItem
from server.record.sqlite import PROGRAM_PREFIX  # one definition, beside the record that filters on it

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def program_room(program_id: str) -> str:
    return PROGRAM_PREFIX + program_id


class Slot(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: str                      # HH:MM, local time in the program's zone
    minutes: int


class StaffEntry(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    id: str
    name: str
    role: Literal["facilitator", "cofacilitator", "observer"] = "facilitator"


class Enrolment(Struct, kw_only=True, gc=False):
    id: str
    name: str
    enrolled: str                   # ISO date: the first date the member is expected
    discharged: str | None = None   # ISO date: the last date, when discharged
    together: list[str] = []
    apart: list[str] = []

    def enrolled_on(self, day: dt.date) -> bool:
        iso = day.isoformat()
        return self.enrolled <= iso and (self.discharged is None or iso <= self.discharged)


class Makeup(Struct, kw_only=True, gc=False):
    member: str
    missed: str                     # room of the missed session
    made_up_in: str                 # room of the session that made it up (any program, or none)


# --- events (the program room's log) -----------------------------------------------

class ProgramEvent(Struct, tag_field="type", kw_only=True, gc=False):
    pass


class ProgramDefined(ProgramEvent, tag="program_defined"):
    """The program's settings as a whole: each import that changes them records them again."""
    id: str
    title: str
    timezone: str
    capacity: int = 12
    agreement: str = ""
    weekly_hours_target: float = 0.0
    agenda: list[AgendaItem] = []
    schedule: list[Slot] = []
    staff: list[StaffEntry] = []
    survey: bool = False            # its sessions may run the end-of-session satisfaction survey


class MemberEnrolled(ProgramEvent, tag="member_enrolled"):
    """A member enrolled, or their name, enrolment date or rules corrected.

    Enrolling again after a discharge opens a new enrolment (the discharge is cleared)."""
    member: str
    name: str
    enrolled: str
    together: list[str] = []
    apart: list[str] = []


class MemberDischarged(ProgramEvent, tag="member_discharged"):
    member: str
    date: str                       # the last date expected; "" withdraws a discharge


class MakeupRecorded(ProgramEvent, tag="makeup_recorded"):
    member: str
    missed: str
    made_up_in: str


AnyProgramEvent = Union[ProgramDefined, MemberEnrolled, MemberDischarged, MakeupRecorded]
PROGRAM_EVENT_TYPES = {t.__struct_config__.tag for t in AnyProgramEvent.__args__}  # type: ignore[attr-defined]
encode_event = msgspec.msgpack.Encoder().encode
decode_event = msgspec.msgpack.Decoder(AnyProgramEvent).decode


class Program(Struct, kw_only=True, gc=False):
    id: str
    title: str = ""
    timezone: str = "UTC"
    capacity: int = 12
    agreement: str = ""
    weekly_hours_target: float = 0.0
    agenda: list[AgendaItem] = []
    schedule: list[Slot] = []
    staff: list[StaffEntry] = []
    survey: bool = False
    members: dict[str, Enrolment] = {}
    makeups: list[Makeup] = []
    defined: bool = False
    changes: int = 0                # events folded: a change log's length, for `program show`

    def enrolled_on(self, day: dt.date) -> list[Enrolment]:
        return [m for m in self.members.values() if m.enrolled_on(day)]

    def slot_on(self, day: dt.date) -> Slot | None:
        wd = WEEKDAYS[day.weekday()]
        return next((s for s in self.schedule if s.weekday == wd), None)

    def made_up_in(self, member: str, missed: str) -> str:
        """The latest makeup recorded for that miss wins: a correction is a new event."""
        found = ""
        for mk in self.makeups:
            if mk.member == member and mk.missed == missed:
                found = mk.made_up_in
        return found


def evolve_program(p: Program, ev: ProgramEvent) -> Program:
    """Folds one event into the program, in place; returns it. No I/O, no clock."""
    p.changes += 1
    if isinstance(ev, ProgramDefined):
        p.title, p.timezone, p.capacity, p.agreement = ev.title, ev.timezone, ev.capacity, ev.agreement
        p.weekly_hours_target = ev.weekly_hours_target
        p.agenda, p.schedule, p.staff = list(ev.agenda), list(ev.schedule), list(ev.staff)
        p.survey = ev.survey
        p.defined = True
    elif isinstance(ev, MemberEnrolled):
        old = p.members.get(ev.member)
        discharged = None
        if old is not None and old.discharged is not None and ev.enrolled <= old.discharged:
            discharged = old.discharged      # a correction within the same enrolment keeps its end
        p.members[ev.member] = Enrolment(id=ev.member, name=ev.name, enrolled=ev.enrolled,
                                         discharged=discharged, together=list(ev.together),
                                         apart=list(ev.apart))
    elif isinstance(ev, MemberDischarged):
        m = p.members.get(ev.member)
        if m is not None:
            m.discharged = ev.date or None
    elif isinstance(ev, MakeupRecorded):
        p.makeups.append(Makeup(member=ev.member, missed=ev.missed, made_up_in=ev.made_up_in))
    return p


def fold_program(program_id: str, events) -> Program:
    p = Program(id=program_id)
    for ev in events:
        evolve_program(p, ev)
    return p
