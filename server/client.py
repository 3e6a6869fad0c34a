"""A small asyncio client for the session server.

Used by the scenario runner, the tests, the benchmark and the consoles: one
place that knows the handshake, command ids, acks, ping barriers and resume.
"""
from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from protocol.commands import Command
from protocol.frames import (
    PROTOCOL_VERSION, Ack, Answer, Ask, Cmd, Error, EventFrame, Health, Hello, Ping, Pong, Welcome, decode_server,
    encode,
)


class ClientError(Exception):
    pass


class SessionClient:
    def __init__(self, url: str, token: str, *, binary: bool = True, name: str = "",
                 on_frame: Callable[[object], None] | None = None, ssl=None,
                 additional_headers=None):
        self.url = url
        self.token = token
        self.binary = binary
        self.name = name or uuid.uuid4().hex[:6]
        self.on_frame = on_frame
        self.ssl = ssl
        self.headers = additional_headers
        self.ws: ClientConnection | None = None
        self.welcome: Welcome | None = None
        self.events: list[EventFrame] = []
        self.last_seq = 0
        self.errors: list[Error] = []
        self.health: Health | None = None      # staff: the newest word on the record's health
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._pings: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task | None = None
        self._welcomed: asyncio.Future | None = None

    async def connect(self, resume: int | None = None, timeout: float = 10.0) -> Welcome:
        """Connects and says hello; returns the welcome, or raises ClientError with the refusal."""
        self.closed.clear()
        self.close_code = None
        kw = {"ssl": self.ssl} if self.ssl is not None else {}
        from server.tokens import with_room
        # the room in the URL, so that a proxy in front of several servers can route on it
        self.ws = await connect(with_room(self.url, self.token), max_size=None, open_timeout=timeout,
                                additional_headers=self.headers, ping_interval=None, **kw)
        loop = asyncio.get_running_loop()
        self._welcomed = loop.create_future()
        self._reader = asyncio.create_task(self._read())
        await self.ws.send(encode(Hello(token=self.token, protocol=PROTOCOL_VERSION, resume=resume),
                                  self.binary))
        result = await asyncio.wait_for(self._welcomed, timeout)
        if isinstance(result, Error):
            raise ClientError(result.code, result.message)
        return result

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for data in ws:
                frame = decode_server(data)
                self._handle(frame)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            if self._welcomed is not None and not self._welcomed.done():
                self._welcomed.set_exception(ClientError("closed", f"connection closed ({ws.close_code})"))
                self._welcomed.exception()
            for fut in list(self._pending.values()) + list(self._pings.values()):
                if not fut.done():
                    fut.set_exception(ClientError("closed", "connection closed"))
                    fut.exception()   # whoever awaits it still gets the error; nobody need to
            self._pending.clear()
            self._pings.clear()
            self.closed.set()

    def _handle(self, frame) -> None:
        if isinstance(frame, EventFrame):
            self.events.append(frame)
            self.last_seq = max(self.last_seq, frame.seq)
        elif isinstance(frame, Welcome):
            self.welcome = frame
            self.last_seq = max(self.last_seq, frame.seq) if frame.resumed else frame.seq
            if self._welcomed is not None and not self._welcomed.done():
                self._welcomed.set_result(frame)
        elif isinstance(frame, (Ack, Error, Answer)):
            fut = self._pending.pop(frame.id, None) if frame.id is not None else None
            if fut is not None and not fut.done():
                fut.set_result(frame)
            elif isinstance(frame, Error):
                self.errors.append(frame)
                if self._welcomed is not None and not self._welcomed.done():
                    self._welcomed.set_result(frame)
        elif isinstance(frame, Health):
            self.health = frame
        elif isinstance(frame, Pong):
            self.last_seq = max(self.last_seq, frame.seq)
            fut = self._pings.pop(frame.id, None)
            if fut is not None and not fut.done():
                fut.set_result(frame)
        if self.on_frame is not None:
            self.on_frame(frame)

    async def command(self, cmd: Command, cid: str | None = None, timeout: float = 10.0) -> Ack | Error:
        cid = cid or f"{self.name}-{next(self._ids)}-{uuid.uuid4().hex[:6]}"
        fut = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        await self.ws.send(encode(Cmd(id=cid, cmd=cmd), self.binary))
        return await asyncio.wait_for(fut, timeout)

    async def ask(self, query, cid: str | None = None, timeout: float = 10.0) -> Answer | Error:
        """A staff question about programs (protocol/programs.py); its answer or error."""
        cid = cid or f"{self.name}-{next(self._ids)}-{uuid.uuid4().hex[:6]}"
        fut = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        await self.ws.send(encode(Ask(id=cid, q=query), self.binary))
        return await asyncio.wait_for(fut, timeout)

    async def command_raw(self, cmd: dict, cid: str | None = None, timeout: float = 10.0) -> Ack | Error:
        """Sends a command exactly as given, unchecked: for stories about refused input."""
        import msgspec
        cid = cid or f"{self.name}-{next(self._ids)}-{uuid.uuid4().hex[:6]}"
        fut = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        frame = {"t": "cmd", "id": cid, "cmd": cmd}
        data = msgspec.msgpack.encode(frame) if self.binary else msgspec.json.encode(frame).decode()
        await self.ws.send(data)
        return await asyncio.wait_for(fut, timeout)

    async def sync(self, timeout: float = 10.0) -> Pong:
        """A barrier: once the pong is back, every event sent before it has arrived."""
        pid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pings[pid] = fut
        await self.ws.send(encode(Ping(id=pid), self.binary))
        return await asyncio.wait_for(fut, timeout)

    async def drop(self) -> None:
        """Cuts the connection with no close frame, as a lost network would."""
        if self.ws is not None and self.ws.transport is not None:
            self.ws.transport.abort()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, TimeoutError, asyncio.CancelledError):
                pass

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, TimeoutError, asyncio.CancelledError):
                pass
