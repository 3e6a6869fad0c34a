"""Plays a scenario against a real server over real websockets on a virtual clock.

The server runs in this process so the runner can move its clock; every
person still talks to it through their own websocket connection, exactly as
a console or a participant page would. After each step the runner waits for
a ping barrier on every open connection, so "the events it caused have
reached everyone" is a fact, not a sleep.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field

import msgspec

from protocol.frames import Ack, Error, EventFrame, Welcome
from protocol.state import RoomState
from server import engine
from server.app import EmbeddedServer
from server.clock import VirtualClock
from server.client import ClientError, SessionClient
from server import review
from server.scenarios import expectations
from server.scenarios.script import Scenario, ScriptError, Step, fmt_time, load

# Monday 5 January 2026, 18:00 in New York: an evening group. Fixed, so that a
# scenario's record is the same every time it is played.
EPOCH = 1767654000.0


@dataclass
class Failure:
    step: int
    at: str
    line: int
    key: str
    expected: object
    seen: object

    def __str__(self) -> str:
        return (f"step {self.step} ({self.at}, line {self.line}): expected {self.key} = "
                f"{_show(self.expected)}, saw {_show(self.seen)}")


def _show(v) -> str:
    if isinstance(v, str):
        return repr(v)
    return msgspec.json.encode(v).decode() if not isinstance(v, Exception) else str(v)


def _heard(cl: SessionClient) -> set[str]:
    """Every chat, broadcast and help text a person was given: the events they got
    on any of their connections, and the chat of their latest fresh view."""
    out = {f.ev.text for f in cl.events if isinstance(getattr(f.ev, "text", None), str)}
    view = cl.welcome.state if cl.welcome is not None else None
    out.update(line.text for line in getattr(view, "chat", ()) or ())
    return out


@dataclass
class RunResult:
    path: str
    room: str
    steps: int
    checks: int
    failures: list[Failure] = field(default_factory=list)
    virtual_seconds: float = 0.0
    wall_seconds: float = 0.0
    events: int = 0
    db: str = ""
    faithful: bool = True

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> dict:
        return {"scenario": self.path, "room": self.room, "passed": self.passed, "steps": self.steps,
                "checks": self.checks, "failed": len(self.failures), "events": self.events,
                "virtual_time": fmt_time(self.virtual_seconds), "wall_seconds": round(self.wall_seconds, 3),
                "replay_faithful": self.faithful, "db": self.db,
                "failures": [dict(asdict(f), message=str(f)) for f in self.failures]}


class Player:
    """One person's connection, with the room as they have been told it."""

    def __init__(self, person, url: str, token: str, binary: bool):
        self.person = person
        self.client = SessionClient(url, token, binary=binary, name=person.id, on_frame=self._frame)
        self.connected = False
        self.mirror: RoomState | None = None

    def _frame(self, frame) -> None:
        if isinstance(frame, Welcome) and isinstance(frame.state, RoomState):
            self.mirror = frame.state
        elif isinstance(frame, EventFrame) and self.mirror is not None:
            engine.evolve(self.mirror, frame.ev, frame.at, frame.seq)


class Runner:
    def __init__(self, scenario: Scenario, db: str | None = None):
        self.sc = scenario
        self.db_given = db
        self.players: dict[str, Player] = {}

    async def run(self) -> RunResult:
        sc = self.sc
        tmp = None
        db = self.db_given
        if db is None:
            tmp = tempfile.mkdtemp(prefix="scenario-")
            db = os.path.join(tmp, "record.db")
        result = RunResult(sc.path, sc.room, len(sc.steps), 0, db=db if self.db_given else "")
        wall = time.perf_counter()
        # a program's session starts at its scheduled local start; a lone one at EPOCH
        clock = VirtualClock(sc.start if sc.start is not None else EPOCH)
        server = EmbeddedServer(db, secrets.token_bytes(32), clock=clock)
        await server.start()
        try:
            host = await server.hub.take(sc.room, wait=True)   # a shared record: its lease first
            if host.state.seq != 0:
                raise ScriptError(None, f"the record {db} already holds room {sc.room!r}; "
                                        "a scenario plays a new session: use another --db or room")
            await server.hub.configure(sc.room, sc.configure())
            start = clock.t
            for i, p in enumerate(sc.people.values()):
                # participants alternate MessagePack and JSON frames: both must behave the same
                binary = p.role != "participant" or i % 2 == 0
                self.players[p.id] = Player(p, server.url, server.token(sc.room, p.role, p.id, p.name), binary)
            for step in sc.steps:
                await server.hub.advance_to(start + step.at)
                await self._step(server, step, result)
            result.virtual_seconds = sc.duration
            await self._finish(server, result)
        finally:
            await server.stop()
            for pl in self.players.values():
                if pl.connected:
                    try:
                        await pl.client.close()
                    except Exception:
                        pass
            result.wall_seconds = time.perf_counter() - wall
            if tmp is not None:
                for f in os.listdir(tmp):
                    os.unlink(os.path.join(tmp, f))
                os.rmdir(tmp)
        return result

    async def _step(self, server: EmbeddedServer, step: Step, result: RunResult) -> None:
        hub = server.hub
        host = hub.room(self.sc.room)
        # what the clock's advance fired belongs to no step: let it arrive first
        await self._barrier()
        marks = {pid: len(pl.client.events) for pid, pl in self.players.items()}
        outcome = await self._act(server, step)
        await hub.flush()
        await self._barrier()
        seen = {pid: pl.client.events[marks[pid]:] for pid, pl in self.players.items()}
        heard = {pid: _heard(pl.client) for pid, pl in self.players.items()} if "never_heard" in step.expect else None
        for key, expected, actual in expectations.check(step, outcome, host.visible, hub.clock.now(), seen, heard):
            result.checks += 1
            if actual is not expectations.OK:
                result.failures.append(Failure(step.number, step.at_text, step.line, key, expected, actual))
        if "error" not in step.expect and isinstance(outcome, Error) and step.do != "wait":
            result.failures.append(Failure(step.number, step.at_text, step.line, "success",
                                           "the command to succeed",
                                           f"rejected with {outcome.code}: {outcome.message}"))

    async def _barrier(self) -> None:
        """Waits until every open connection has received all that was sent to it."""
        live = [pl for pl in self.players.values() if pl.connected and not pl.client.closed.is_set()]
        for pl in self.players.values():
            if pl.connected and pl.client.closed.is_set():
                pl.connected = False
        results = await asyncio.gather(*(pl.client.sync() for pl in live), return_exceptions=True)
        for pl, r in zip(live, results):
            if isinstance(r, BaseException):
                pl.connected = not pl.client.closed.is_set()

    async def _act(self, server: EmbeddedServer, step: Step):
        if step.do == "wait":
            return None
        pl = self.players[step.who]
        cl = pl.client
        hub = server.hub
        if step.do in ("join", "reconnect"):
            if pl.connected and not cl.closed.is_set():
                return Error(code="conflict", message=f"{step.who} is already connected")
            try:
                await cl.connect(resume=cl.last_seq if step.do == "reconnect" and cl.last_seq else None)
            except ClientError as exc:
                return Error(code=exc.args[0], message=exc.args[1] if len(exc.args) > 1 else "")
            pl.connected = True
            return None
        if not pl.connected or cl.closed.is_set():
            pl.connected = False
            return Error(code="closed", message=f"{step.who} is not connected")
        if step.do == "drop":
            await cl.drop()
            pl.connected = False
            host = hub.room(self.sc.room)
            for _ in range(2000):   # until the server has noticed the cut
                if host.conns.get(step.who) is None:
                    break
                await asyncio.sleep(0.002)
            await hub.flush()
            return None
        try:
            if step.command is None:
                outcome = await cl.command_raw({"do": step.do, **step.args})
            else:
                outcome = await cl.command(step.command)
        except (ClientError, asyncio.TimeoutError, TimeoutError) as exc:
            return Error(code="closed", message=f"connection lost: {exc}")
        if step.do == "leave" and isinstance(outcome, Ack):
            try:
                await asyncio.wait_for(cl.closed.wait(), 5)
            except (asyncio.TimeoutError, TimeoutError):
                await cl.close()
            pl.connected = False
        return outcome

    async def _finish(self, server: EmbeddedServer, result: RunResult) -> None:
        """The record, folded again from scratch, must give exactly the live room;
        so must each staff console's mirror."""
        hub = server.hub
        await hub.flush()
        host = hub.room(self.sc.room)
        live = msgspec.msgpack.encode(host.visible)
        rebuilt, _, history = review.fold_until(hub.record, self.sc.room)   # the reviewer's own fold
        result.events = len(history)
        if msgspec.msgpack.encode(rebuilt) != live:
            result.faithful = False
            result.failures.append(Failure(len(self.sc.steps), fmt_time(self.sc.duration), 0,
                                           "replay", "the record to rebuild the live room",
                                           "a different state"))
        for pid, pl in self.players.items():
            if pl.connected and pl.mirror is not None and not pl.client.closed.is_set():
                await pl.client.sync()
                if msgspec.msgpack.encode(pl.mirror) != live:
                    result.failures.append(Failure(len(self.sc.steps), fmt_time(self.sc.duration), 0,
                                                   f"mirror of {pid}", "the console's fold to equal the server's",
                                                   "a different state"))


def run_scenario(path: str, db: str | None = None) -> RunResult:
    """Plays a scenario file; raises ScriptError when the file itself is invalid."""
    scenario = load(path, db)
    return asyncio.run(Runner(scenario, db).run())


async def run_scenario_async(path: str, db: str | None = None) -> RunResult:
    return await Runner(load(path, db), db).run()
