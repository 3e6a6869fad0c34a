"""Where the console's program screens read and write programs: one interface, two ways.

`HubPrograms`: the console's embedded server, whose hub holds the record (its writer thread
is the record's only writer). `WirePrograms`: a running server, asked over the console's own
websocket (`ask` frames, protocol/programs.py). The screens do not know which they have.
Both record a change through `server.programs.changes`, so both check it as `program import`
checks a file, and a refusal arrives as a `ProgramError` with the same words.
"""
from __future__ import annotations

import datetime as dt

import msgspec

from protocol import programs as q
from protocol.frames import Error
from server.programs.model import Program
from server.programs.spec import ProgramError


def http_base(ws_url: str) -> str:
    """The page's address on the server a console connected to: ws://h:p/x -> http://h:p."""
    scheme, _, rest = ws_url.partition("://")
    return {"wss": "https", "ws": "http"}.get(scheme, "http") + "://" + rest.split("/", 1)[0].split("?", 1)[0]


class ProgramSource:
    """What a program screen needs; `ProgramError` carries any refusal."""
    base_url = ""

    async def list(self) -> list[tuple[Program, list[dict]]]:
        """The programs, each with tonight's sessions (`store.tonight`)."""
        raise NotImplementedError

    async def get(self, program_id: str) -> tuple[Program, dict, dict] | None:
        """(program, plain data as `program show --json`, trends by member), None if none."""
        raise NotImplementedError

    async def change(self, program_id: str, events: list, create: bool = False,
                     based_on: int | None = None) -> None:
        """Records the events; with `based_on` (the program's `changes` when it was read), only
        if nobody has changed the program since."""
        raise NotImplementedError

    async def links(self, program: Program, day: dt.date) -> list[dict]:
        raise NotImplementedError

    async def surveys(self, program_id: str) -> tuple[Program, list] | None:
        """The program and its sessions' survey results (server.programs.surveys.SessionSurvey)."""
        raise NotImplementedError


class HubPrograms(ProgramSource):
    def __init__(self, hub, actor: str, base_url: str = ""):
        self.hub, self.actor, self.base_url = hub, actor, base_url

    async def list(self):
        from server.programs import on_hub
        from server.programs.wire import summaries
        return [(msgspec.convert(s["program"], Program), s["tonight"]) for s in await on_hub(self.hub, summaries)]

    async def get(self, program_id):
        from server.programs import on_hub
        from server.programs.wire import view
        return await on_hub(self.hub, view, program_id)

    async def change(self, program_id, events, create=False, based_on=None):
        from server.programs import on_hub
        from server.programs.changes import change
        await on_hub(self.hub, change, program_id, events, self.actor, create, based_on)

    async def links(self, program, day):
        from server.programs import join_links
        return join_links(self.hub.secret, program, day, self.base_url)

    async def surveys(self, program_id):
        from server.programs import on_hub
        from server.programs.wire import survey_results
        return await on_hub(self.hub, survey_results, program_id)


class WirePrograms(ProgramSource):
    def __init__(self, link, base_url: str):
        self.link, self.base_url = link, base_url

    async def _ask(self, query):
        answer = await self.link.ask(query)
        if answer is None:
            raise ProgramError("the server did not answer; try again once the console is online")
        if isinstance(answer, Error):
            exc = ProgramError(answer.message)
            exc.code = answer.code
            raise exc
        return answer.data

    async def list(self):
        return [(msgspec.convert(s["program"], Program), s["tonight"]) for s in await self._ask(q.ProgramList())]

    async def get(self, program_id):
        try:
            d = await self._ask(q.ProgramGet(program=program_id))
        except ProgramError as exc:
            if getattr(exc, "code", "") == "not_found":
                return None
            raise
        trends = {m: {k: [tuple(x) for x in v] for k, v in t.items()} for m, t in d["trends"].items()}
        return msgspec.convert(d["program"], Program), d["data"], trends

    async def change(self, program_id, events, create=False, based_on=None):
        await self._ask(q.ProgramChange(program=program_id, events=msgspec.to_builtins(events), create=create,
                                        based_on=based_on))

    async def links(self, program, day):
        return await self._ask(q.ProgramLinks(program=program.id, date=day.isoformat(), base_url=self.base_url))

    async def surveys(self, program_id):
        from server.programs.surveys import SessionSurvey
        try:
            d = await self._ask(q.ProgramSurveys(program=program_id))
        except ProgramError as exc:
            if getattr(exc, "code", "") == "not_found":
                return None
            raise
        results = [SessionSurvey(**{**r, "counts": [{int(k): v for k, v in c.items()} for c in r["counts"]]})
                   for r in d["results"]]
        return msgspec.convert(d["program"], Program), results
