"""Changes to a program made from a console (its form and program screen, here or over the wire).

A change is a list of the program's own events. Before any is written, they are folded
into a copy of the program and the result is checked by the program file's own parser
(`spec.parse`): a console cannot record a program that `program import` would refuse.
"""
from __future__ import annotations

import msgspec

from server.programs import store
from server.programs.model import (
    MemberDischarged, MemberEnrolled, Program, ProgramDefined, evolve_program,
)
from server.programs.spec import ProgramError, parse, table_of

# what a console may record; make-ups come from `program makeup`
CONSOLE_EVENTS = (ProgramDefined, MemberEnrolled, MemberDischarged)


def checked(current: Program | None, program_id: str, events: list, create: bool = False,
            based_on: int | None = None) -> list:
    """The events as they would be recorded (settings in their stored form); ProgramError if not.
    With `based_on`, the program must still be as it was after that many changes."""
    if create and current is not None:
        raise ProgramError(f"program.id: a program {program_id!r} already exists")
    if not create and current is None:
        raise ProgramError(f"the record has no program {program_id!r}")
    if based_on is not None and current is not None and current.changes != based_on:
        n = current.changes - based_on
        raise ProgramError(f"the program was changed meanwhile ({n} change(s) since this was opened, by another "
                           "console or the command line): nothing was saved; open it again to see them")
    after = msgspec.convert(msgspec.to_builtins(current), Program) if current else Program(id=program_id)
    out = []
    for ev in events:
        if not isinstance(ev, CONSOLE_EVENTS):
            raise ProgramError(f"a console cannot record {type(ev).__name__}")
        if isinstance(ev, ProgramDefined) and ev.id != program_id:
            raise ProgramError("program.id cannot change (a program's sessions are named after it)")
        if isinstance(ev, MemberDischarged) and ev.member not in after.members:
            raise ProgramError(f"no member {ev.member!r} in program {program_id!r}")
        if not after.defined and not isinstance(ev, ProgramDefined):
            raise ProgramError("a new program starts with its settings")
        evolve_program(after, ev)
        out.append(ev)
    spec = parse(table_of(after))
    # the settings as `parse` gives them (a whole number of hours becomes a float, as from a file)
    return [spec.defined if isinstance(ev, ProgramDefined) else ev for ev in out]


def change(record, program_id: str, events: list, actor: str, create: bool = False,
           based_on: int | None = None) -> Program:
    """Checks and records a console's change; returns the program as it now is. It runs in the
    record's one writer, so the check against `based_on` and the write cannot be split."""
    current = store.load_program(record, program_id)
    events = checked(current, program_id, events, create, based_on)
    p = current or Program(id=program_id)
    if current is not None:
        # a settings event that changes nothing is not recorded: the log shows real changes only
        events = [ev for ev in events if not (isinstance(ev, ProgramDefined) and store.same_settings(current, ev))]
    store.append(record, p, events, actor)
    return p

