"""Answers to the staff's `ask` frames about programs (protocol/programs.py), on a running server.

The gateway hands every `ask` here; this judges it by role (server/engine/permissions.py),
then reads or writes the record in the hub's writer thread (`server.programs.on_hub`), as
the console's embedded server does. Need to know: a connection sees the programs its person
is on the staff of, and the program of the room it is connected to; a participant, nothing.
"""
from __future__ import annotations

import datetime as dt

import msgspec

from protocol import programs as q
from protocol.frames import Answer, Error
from server.engine.base import Rejected
from server.engine.permissions import allowed
from server.programs import RecordNotNow, join_links, on_hub, program_data, store
from server.programs.changes import change
from server.programs.documents import score_trends
from server.programs.model import AnyProgramEvent, Program
from server.programs.spec import ProgramError


def view(record, program_id: str):
    """The program as the program screen shows it: (program, plain data, each member's trends)."""
    p = store.load_program(record, program_id)
    if p is None:
        return None
    trends = {m: score_trends(record, p, m) for m in p.members}
    return p, program_data(record, p), trends


def summaries(record, now: float | None = None) -> list[dict]:
    """Each program with tonight's sessions: what a console offers when it starts."""
    return [{"program": msgspec.to_builtins(p), "tonight": store.tonight(p, now)} for p in store.programs(record)]


def visible(p: Program, person: str, room: str) -> bool:
    m = store.ROOM_DATE.match(room)
    return any(s.id == person for s in p.staff) or (m is not None and m.group("program") == p.id)


def _may_see(record, program_id: str, person: str, room: str):
    p = store.load_program(record, program_id)
    return p is not None and visible(p, person, room)


def survey_results(record, program_id: str):
    """(program, its sessions' survey results), read in the hub's writer; None for no such program."""
    from server.programs.surveys import program_results
    p = store.load_program(record, program_id)
    return None if p is None else (p, program_results(record, p))


async def answer(hub, actor, host, ask) -> Answer | Error:
    """The answer to one `ask` from `actor`, connected to the room `host`. A record that cannot
    be read or written now (a full disk, a lost database) is one `unavailable` refusal: the
    asker's connection and room go on, and nothing of the change is kept (server.programs.on_hub)."""
    try:
        return await _answer(hub, actor, host, ask)
    except RecordNotNow as exc:
        return Error(id=ask.id, code=exc.code, message=str(exc))


async def _answer(hub, actor, host, ask) -> Answer | Error:
    query, tag, room = ask.q, type(ask.q).__struct_config__.tag, host.id

    def refuse(code: str, message: str) -> Error:
        return Error(id=ask.id, code=code, message=message)
    if not allowed(actor.role, q.NEEDS[tag]):
        message = ("programs are for the facilitators" if tag in ("program_list", "program_get", "program_surveys")
                   else "only the facilitator changes a program or issues its links")
        # audited as a refused command is, in the asker's room: who tried to read programs, when
        await hub._audit(host, actor, ask.id, tag, Rejected("forbidden", message))
        return refuse("forbidden", message)
    if isinstance(query, q.ProgramList):
        found = await on_hub(hub, summaries)
        return Answer(id=ask.id, data=[s for s in found if visible(
            msgspec.convert(s["program"], Program), actor.id, room)])
    if not isinstance(query, q.ProgramChange) or not query.create:
        if not await on_hub(hub, _may_see, query.program, actor.id, room):
            return refuse("not_found", f"no program {query.program!r} here")
    if isinstance(query, q.ProgramGet):
        p, data, trends = await on_hub(hub, view, query.program)
        return Answer(id=ask.id, data={"program": msgspec.to_builtins(p), "data": data, "trends": trends})
    if isinstance(query, q.ProgramSurveys):
        p, results = await on_hub(hub, survey_results, query.program)
        return Answer(id=ask.id, data={"program": msgspec.to_builtins(p),
                                       "results": [msgspec.to_builtins(r) for r in results]})
    if isinstance(query, q.ProgramChange):
        try:
            events = msgspec.convert(query.events, list[AnyProgramEvent])
            await on_hub(hub, change, query.program, events, f"console:{actor.id}", query.create,
                         query.based_on)
        except msgspec.ValidationError as exc:
            return refuse("invalid", f"a program event: {exc}")
        except RecordNotNow:
            raise                # not the change's fault: `answer` says unavailable
        except ProgramError as exc:
            return refuse("invalid", str(exc))
        p = await on_hub(hub, store.load_program, query.program)
        return Answer(id=ask.id, data={"program": msgspec.to_builtins(p), "changes": p.changes})
    p = await on_hub(hub, store.load_program, query.program)
    try:
        links = join_links(hub.secret, p, dt.date.fromisoformat(query.date), query.base_url)
    except (LookupError, ValueError) as exc:
        return refuse("not_found", str(exc))
    return Answer(id=ask.id, data=links)

