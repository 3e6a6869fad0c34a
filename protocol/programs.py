"""Programs over the wire: the staff's questions about programs, and changes to them.

A program (a recurring group: schedule, staff, enrolled members) is no room, so these are
not room commands: they travel in `ask` frames and are answered by `answer` frames, with
the same command ids and `error` frames as commands. Only staff connections are answered
(the facilitator alone may change a program); a participant gets `forbidden`.

The program's events in `program_change` are the record's own (`program_defined`,
`member_enrolled`, `member_discharged`), checked by the server as `program import` checks
a file.
"""
from __future__ import annotations

from typing import Annotated, Any, Union

from msgspec import Meta, Struct

Id = Annotated[str, Meta(min_length=1, max_length=64)]


class ProgramQuery(Struct, tag_field="do", forbid_unknown_fields=True, kw_only=True, gc=False):
    pass


class ProgramList(ProgramQuery, tag="program_list"):
    """The programs this connection may see, each with tonight's sessions (local dates)."""


class ProgramGet(ProgramQuery, tag="program_get"):
    """One program: its settings, members, sessions held, and each member's score trends."""
    program: Id


class ProgramChange(ProgramQuery, tag="program_change"):
    """Records program events; `create` for a new program (its first event is its settings)."""
    program: Id
    events: Annotated[list[dict[str, Any]], Meta(min_length=1, max_length=50)]
    create: bool = False
    # the program's `changes` when the asker read it: refused if the record has moved on since,
    # so that a form saved over a stale copy does not quietly undo someone else's change
    based_on: Annotated[int, Meta(ge=0)] | None = None


class ProgramLinks(ProgramQuery, tag="program_links"):
    """Everyone's way in to the program's session on a date: members' page links, staff tokens."""
    program: Id
    date: Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    base_url: Annotated[str, Meta(max_length=300)] = ""


class ProgramSurveys(ProgramQuery, tag="program_surveys"):
    """The satisfaction survey across the program's sessions: counts and medians, never who said what."""
    program: Id


AnyProgramQuery = Union[ProgramList, ProgramGet, ProgramChange, ProgramLinks, ProgramSurveys]
# which permission (server/engine/permissions.py) each asks for
NEEDS = {"program_list": "program_read", "program_get": "program_read", "program_surveys": "program_read",
         "program_change": "program_change", "program_links": "program_links"}
