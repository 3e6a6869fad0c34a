"""One console's connection to the session server, kept alive.

The link owns the `SessionClient` and hides the network's moods from the UI:
it reconnects with backoff, resumes from the last event folded, and sends a
command again once (with the same id, so the server applies it once) when
the connection dropped before the answer came. Frames go to callbacks on
the app's own event loop; nothing here blocks.
"""
from __future__ import annotations

import asyncio
import logging
import random
import uuid
from typing import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from protocol.commands import Command
from protocol.frames import Ack, Error, EventFrame, Health, Welcome
from server.client import ClientError, SessionClient

log = logging.getLogger("facilitator.link")

# Refusals that no retry can fix: say so and stop instead of hammering the server.
FATAL = {"unauthorized", "forbidden", "version", "closed"}


class Link:
    def __init__(self, url: str, token: str, *,
                 on_welcome: Callable[[Welcome], None],
                 on_event: Callable[[EventFrame], None],
                 on_status: Callable[[str, str], None],
                 resume_from: Callable[[], int | None],
                 backoff: tuple[float, float] = (0.25, 8.0),
                 command_timeout: float = 10.0,
                 on_health: Callable[[Health], None] | None = None):
        self.url, self.token = url, token
        self.on_welcome, self.on_event, self.on_status = on_welcome, on_event, on_status
        self.resume_from = resume_from
        self.on_health = on_health
        self.backoff = backoff
        self.command_timeout = command_timeout
        self.client: SessionClient | None = None
        self.connected = asyncio.Event()
        self.status = "connecting"
        self.attempts = 0
        self.stopping = False
        self.unacked: dict[str, Command] = {}       # sent, no answer yet

    def _set(self, status: str, detail: str = "") -> None:
        self.status = status
        self.on_status(status, detail)

    def _frame(self, frame) -> None:
        # Called by the client's reader in socket order: a welcome, then events.
        if isinstance(frame, Welcome):
            self.on_welcome(frame)
        elif isinstance(frame, EventFrame):
            self.on_event(frame)
        elif isinstance(frame, Health) and self.on_health is not None:
            self.on_health(frame)

    async def run(self) -> None:
        """Connects, and reconnects whenever the connection ends, until stopped."""
        delay = self.backoff[0]
        while not self.stopping:
            self.attempts += 1
            self._set("connecting" if self.attempts == 1 else "reconnecting",
                      f"attempt {self.attempts}")
            client = SessionClient(self.url, self.token, on_frame=self._frame, name="console")
            try:
                await client.connect(resume=self.resume_from())
            except ClientError as exc:
                code, message = (exc.args + ("", ""))[:2]
                if code in FATAL:
                    self._set("refused", str(message) or str(code))
                    return
                self._set("offline", str(message))
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, asyncio.TimeoutError,
                    TimeoutError) as exc:
                self._set("offline", _reason(exc))
            else:
                self.client = client
                self.connected.set()
                self._set("online", "")
                delay = self.backoff[0]
                await client.closed.wait()
                self.connected.clear()
                if self.stopping:
                    return
                self._set("offline", "connection lost")
            # jittered exponential backoff: a room's consoles must not reconnect in lockstep
            await asyncio.sleep(delay * (0.75 + random.random() / 2))
            delay = min(self.backoff[1], delay * 2)

    async def _usable(self, not_this: SessionClient | None, timeout: float) -> SessionClient | None:
        """The live client, once there is one that is not the one that just failed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self.connected.wait(), left)
            except (asyncio.TimeoutError, TimeoutError):
                return None
            c = self.client
            if c is not None and c is not not_this and not c.closed.is_set():
                return c
            await asyncio.sleep(0.05)

    async def send(self, cmd: Command, wait_connected: float = 15.0) -> Ack | Error | None:
        """Sends a command; None when no answer came even after one retry."""
        cid = f"c-{uuid.uuid4().hex[:12]}"
        self.unacked[cid] = cmd
        failed: SessionClient | None = None
        try:
            for attempt in (1, 2):
                client = await self._usable(failed if failed is not None and failed.closed.is_set()
                                            else None, wait_connected)
                if client is None:
                    return None
                try:
                    return await client.command(cmd, cid=cid, timeout=self.command_timeout)
                except (ClientError, ConnectionClosed, OSError, asyncio.TimeoutError, TimeoutError) as exc:
                    # the server may or may not have applied it: the same id makes
                    # the second try safe either way
                    log.info("command %s unanswered (%s), attempt %d", cid, _short(exc), attempt)
                    failed = client
            return None
        finally:
            self.unacked.pop(cid, None)

    async def ask(self, query, wait_connected: float = 10.0):
        """A question about programs (protocol/programs.py): the Answer or Error, None if unanswered.

        Not retried: a change asked twice would be checked twice, and the second may be refused."""
        client = await self._usable(None, wait_connected)
        if client is None:
            return None
        try:
            return await client.ask(query, timeout=self.command_timeout)
        except (ClientError, ConnectionClosed, OSError, asyncio.TimeoutError, TimeoutError) as exc:
            log.info("question unanswered (%s)", _short(exc))
            return None

    async def drop(self) -> None:
        """Cuts the connection as a lost network would (tests and the demo use it)."""
        if self.client is not None:
            await self.client.drop()

    async def stop(self) -> None:
        self.stopping = True
        if self.client is not None:
            await self.client.close()


def _reason(exc: BaseException) -> str:
    """Why a connection attempt failed, in words (not "[Errno 111] Connect call failed …")."""
    if isinstance(exc, ConnectionRefusedError):
        return "no server is listening there"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "the server did not answer in time"
    if isinstance(exc, OSError) and exc.errno in (-2, -3, -5):     # getaddrinfo: name unknown
        return "the server's name is not known"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:120]
