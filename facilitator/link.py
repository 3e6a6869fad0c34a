"""One console's connection to the session server, kept alive.

The link hides the network's moods from the UI: it reconnects when the session says when, resumes
from the last event folded, and a command whose answer was lost with the connection goes out again
once (with the same id, so the server applies it once) if the link is back within a few seconds.
Those rules are protocol/session.py's; this is the console's asyncio loop around them. Frames go to
callbacks on the app's own event loop; nothing here blocks.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from protocol.commands import Command
from protocol.frames import Ack, Error, EventFrame, Health, Welcome
from protocol.session import Backoff, Final, Retry, Session
from server.client import ClientError, SessionClient

log = logging.getLogger("facilitator.link")

RETRY_WITHIN = 3.0


class ConsoleLink:
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
        # a command is sent again once, after one reconnect within a few seconds: never twice, and
        # never long after the key was pressed
        self.session = Session(token, backoff=Backoff.doubling(*backoff),
                               retry=Retry(resends=1, within=RETRY_WITHIN))
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
        """Connects, and reconnects whenever the connection ends, until stopped or refused for good."""
        client = self.client = SessionClient(self.url, self.token, on_frame=self._frame, name="console",
                                             session=self.session)
        while not self.stopping:
            self.attempts += 1
            self._set("connecting" if self.attempts == 1 else "reconnecting", f"attempt {self.attempts}")
            try:
                await client.connect(resume=self.resume_from())
            except ClientError as exc:
                detail = str((exc.args + ("", ""))[1])
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, asyncio.TimeoutError,
                    TimeoutError) as exc:
                detail = _reason(exc)
            else:
                self.connected.set()
                self._set("online", "")
                await client.closed.wait()
                self.connected.clear()
                detail = "connection lost"
            decision = await client.settled()
            if self.stopping:
                return
            if isinstance(decision, Final):
                self._set("refused", decision.message or decision.kind)
                return
            self._set("offline", detail)
            await asyncio.sleep(max(0.0, decision.at - time.monotonic()))

    async def send(self, cmd: Command, wait_connected: float = RETRY_WITHIN) -> Ack | Error | None:
        """Sends a command; None when no answer came, even after the one retry (which goes out
        only if the link is back within RETRY_WITHIN; `wait_connected` only lengthens the wait)."""
        cid = f"c-{uuid.uuid4().hex[:12]}"
        self.unacked[cid] = cmd
        client = self.client
        try:
            if client is None:
                return None
            return await client.command(cmd, cid=cid, timeout=2 * self.command_timeout + wait_connected)
        except (ClientError, ConnectionClosed, OSError, asyncio.TimeoutError, TimeoutError) as exc:
            # the server may or may not have applied it: the same id made the retry safe either way
            log.info("command %s unanswered (%s)", cid, _short(exc))
            return None
        finally:
            self.unacked.pop(cid, None)
            if client is not None:
                client.forget(cid)

    async def ask(self, query, wait_connected: float = 10.0):
        """A question about programs (protocol/programs.py): the Answer or Error, None if unanswered.

        Not retried: a change asked twice would be checked twice, and the second may be refused."""
        try:
            await asyncio.wait_for(self.connected.wait(), wait_connected)
        except (asyncio.TimeoutError, TimeoutError):
            return None
        client = self.client
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
        self.session.finish("closing")
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
