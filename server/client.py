"""A small asyncio client for the session server: the socket under protocol/session.py.

Used by the scenario runner, the tests, the benchmark, the campaigns and, under their reconnecting
links, both terminal clients. What the protocol says (the hello, positions, command ids, pongs,
which closes are final) is the sans-I/O `Session`'s; this module only moves its frames to and from a
websocket, reads the clock for it, and turns its answers into futures.
"""
from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from protocol import session as s
from protocol.commands import Command
from protocol.frames import Ack, Answer, Ask, Error, EventFrame, Health, Pong, Welcome


class ClientError(Exception):
    pass


class SessionClient:
    def __init__(self, url: str, token: str, *, binary: bool = True, name: str = "",
                 on_frame: Callable[[object], None] | None = None, ssl=None,
                 additional_headers=None, session: s.Session | None = None, skip_repeats: bool = False):
        self.url = url
        self.token = token
        self.name = name or uuid.uuid4().hex[:6]
        self.on_frame = on_frame
        self.ssl = ssl
        self.headers = additional_headers
        # the links pass their own, with a backoff, a heartbeat and a retry policy; alone, a client
        # fails an unanswered command when its connection ends, and the caller decides
        self.session = session or s.Session(token, binary=binary)
        # a client that folds a picture skips events it has seen; the tests and campaigns see all,
        # to catch a server that sends one twice
        self.skip_repeats = skip_repeats
        self.ws: ClientConnection | None = None
        self.events: list[EventFrame] = []
        self.errors: list[Error] = []
        self.health: Health | None = None      # staff: the newest word on the record's health
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._pings: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task | None = None
        self._welcomed: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None

    # the session's knowledge, under the names the tests and campaigns have always read
    @property
    def binary(self) -> bool:
        return self.session.binary

    @property
    def welcome(self) -> Welcome | None:
        return self.session.welcome

    @property
    def last_seq(self) -> int:
        return self.session.position or 0

    @last_seq.setter
    def last_seq(self, seq: int) -> None:
        self.session.position = seq

    async def connect(self, resume: int | None = None, timeout: float = 10.0) -> Welcome:
        """Connects and says hello; returns the welcome, or raises ClientError with the refusal."""
        self.closed.clear()
        self.close_code = None
        kw = {"ssl": self.ssl} if self.ssl is not None else {}
        from server.tokens import with_room
        self.session.opening(time.monotonic())
        try:
            # the room in the URL, so that a proxy in front of several servers can route on it
            self.ws = await connect(with_room(self.url, self.token), max_size=None, open_timeout=timeout,
                                    additional_headers=self.headers, ping_interval=None, **kw)
        except BaseException as exc:
            self.session.failed(time.monotonic(), str(exc))
            self.closed.set()
            raise
        loop = asyncio.get_running_loop()
        self._welcomed = loop.create_future()
        self._reader = asyncio.create_task(self._read())
        await self.ws.send(self.session.connected(time.monotonic(), resume))
        self._schedule()
        try:
            result = await asyncio.wait_for(self._welcomed, timeout)
        except (asyncio.TimeoutError, TimeoutError):
            await self.drop()       # a hello never answered: this attempt is over, and the session knows
            raise
        if isinstance(result, Error):
            # the server closes a refused hello at once: its close reason completes the session's verdict
            try:
                await asyncio.wait_for(self.closed.wait(), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                pass
            raise ClientError(result.code, result.message)
        return result

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for data in ws:
                self._apply(self.session.receive(data, time.monotonic()))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            self._apply(self.session.closed(ws.close_code, ws.close_reason or "", time.monotonic()))
            if self._welcomed is not None and not self._welcomed.done():
                self._welcomed.set_exception(ClientError("closed", f"connection closed ({ws.close_code})"))
                self._welcomed.exception()
            for fut in self._pings.values():
                _fail(fut, "connection closed")
            self._pings.clear()
            self._schedule()
            self.closed.set()

    def _apply(self, outputs: list) -> None:
        for o in outputs:
            if isinstance(o, s.Deliver):
                if not (o.repeat and self.skip_repeats):
                    self._deliver(o.frame)
            elif isinstance(o, s.Answered):
                fut = self._pending.pop(o.id, None)
                if fut is not None and not fut.done():
                    fut.set_result(o.frame)
            elif isinstance(o, s.Ponged):
                fut = self._pings.pop(o.id, None)
                if fut is not None and not fut.done():
                    fut.set_result(o.pong)
            elif isinstance(o, s.Refused):
                if self._welcomed is not None and not self._welcomed.done():
                    self._welcomed.set_result(o.error)
            elif isinstance(o, s.Unanswered):
                fut = self._pending.pop(o.id, None)
                if fut is not None:
                    _fail(fut, "connection closed")
            elif isinstance(o, s.Send):
                self._write(o.data)
            elif isinstance(o, s.Drop):
                self._abort()

    def _deliver(self, frame) -> None:
        if isinstance(frame, EventFrame):
            self.events.append(frame)
        elif isinstance(frame, Welcome):
            if self._welcomed is not None and not self._welcomed.done():
                self._welcomed.set_result(frame)
        elif isinstance(frame, Error) and (frame.id is None or frame.id not in self._pending):
            self.errors.append(frame)
        elif isinstance(frame, Health):
            self.health = frame
        if self.on_frame is not None:
            self.on_frame(frame)

    def _write(self, data) -> None:
        ws = self.ws
        if ws is not None:
            # ordered: websockets writes each frame whole, in the order asked
            asyncio.ensure_future(_quiet(ws.send(data)))

    def _schedule(self) -> None:
        """Wakes the session when it has something timed to do (pings, silence, expired retries)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        at = self.session.next_tick()
        if at is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, at - time.monotonic()), self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._apply(self.session.tick(time.monotonic()))
        self._schedule()

    async def command(self, cmd: Command | dict, cid: str | None = None, timeout: float = 10.0) -> Ack | Error:
        """Sends a command and waits for its answer. With the session's retry policy the wait
        spans a reconnect (the session sends it again with its id); alone it ends with the connection."""
        cid = cid or self.new_id()
        return await self._answer(cid, self.session.command(cmd, cid, time.monotonic()), timeout)

    def new_id(self) -> str:
        return f"{self.name}-{next(self._ids)}-{uuid.uuid4().hex[:6]}"

    async def _answer(self, cid: str, outputs: list, timeout: float):
        """Writes a request's frame (if the link is live) and waits for the answer under its id."""
        fut = self._pending.get(cid)
        if fut is None or fut.done():
            fut = self._pending[cid] = asyncio.get_running_loop().create_future()
        for o in outputs:
            try:
                await self.ws.send(o.data)
            except ConnectionClosed:
                pass        # the reader sees the close: the session's retry policy decides what follows
        self._schedule()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            if self.session.retry is None:
                self._pending.pop(cid, None)
                self.session.forget(cid)
            raise

    async def ask(self, query, cid: str | None = None, timeout: float = 10.0) -> Answer | Error:
        """A staff question about programs (protocol/programs.py); its answer or error. Never
        sent twice: a change asked again would be checked again, and might be refused."""
        cid = cid or self.new_id()
        return await self._answer(cid, self.session.request(Ask(id=cid, q=query), cid, time.monotonic(),
                                                            retry=False), timeout)

    async def command_raw(self, cmd: dict, cid: str | None = None, timeout: float = 10.0) -> Ack | Error:
        """Sends a command exactly as given, unchecked: for stories about refused input."""
        return await self.command(cmd, cid, timeout)

    def forget(self, cid: str) -> None:
        """Stops waiting for a command's answer: it will not be sent again."""
        self.session.forget(cid)
        fut = self._pending.pop(cid, None)
        if fut is not None:
            _fail(fut, "no longer waited for")

    async def settled(self) -> s.Reconnect | s.Final:
        """What the session decided once this connection (or attempt) ended."""
        if self._reader is not None and not self._reader.done():
            await self.closed.wait()
        if self.session.decision is None:
            self.session.failed(time.monotonic())
        return self.session.decision

    async def sync(self, timeout: float = 10.0) -> Pong:
        """A barrier: once the pong is back, every event sent before it has arrived."""
        pid, out = self.session.ping(time.monotonic())
        fut = self._pings[pid] = asyncio.get_running_loop().create_future()
        await self.ws.send(out.data)
        return await asyncio.wait_for(fut, timeout)

    def _abort(self) -> None:
        if self.ws is not None and self.ws.transport is not None:
            self.ws.transport.abort()

    async def drop(self) -> None:
        """Cuts the connection with no close frame, as a lost network would."""
        self._abort()
        await self._ended()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self._ended()

    async def _ended(self) -> None:
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, TimeoutError, asyncio.CancelledError):
                pass


def _fail(fut: asyncio.Future, why: str) -> None:
    if not fut.done():
        fut.set_exception(ClientError("closed", why))
        fut.exception()   # whoever awaits it still gets the error; nobody need to


async def _quiet(send) -> None:
    try:
        await send
    except ConnectionClosed:
        pass
