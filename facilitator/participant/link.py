"""The participant client's link to the server: connect, resume, retry, and know when to stop."""
from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from typing import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from facilitator.participant.mirror import Mirror
from protocol import commands as c
from protocol.frames import Ack, Error, EventFrame, Pong, Welcome
from protocol.state import ParticipantView
from server.client import ClientError, SessionClient

BACKOFF = (0.5, 1, 2, 4, 8, 15)
PING_EVERY = 15.0
PONG_WITHIN = 8.0
# A connection shorter than this does not count as "back": the backoff keeps growing, so
# a server that accepts and then drops at once is not asked again five times a second.
STEADY_AFTER = 5.0
FINAL_CODES = {"unauthorized", "forbidden", "version"}
FINAL_REASONS = {"the session has ended": "ended", "removed": "removed", "denied": "denied",
                 "left": "left", "unauthorized": "unauthorized", "forbidden": "forbidden"}
ENDINGS = {
    "ended": ("The session has ended", "Thank you for being here today."),
    "left": ("You have left the session", "Take care."),
    "removed": ("You are no longer in this session",
                "A facilitator has removed you from this session. Please contact your program if you need support."),
    "denied": ("You were not admitted",
               "A facilitator did not admit you to this session. If you think this is a mistake, please contact your program."),
    "unauthorized": ("This link cannot be used", "The token is not valid or has expired. Ask your facilitator for a new link."),
    "forbidden": ("You cannot join this session", "Please contact your program."),
    "version": ("Please update", "This client speaks another protocol version than the server."),
    "replaced": ("This session is open somewhere else", "You joined from another window or device."),
    "staff": ("This link is for staff",
              "It opens the facilitator console, not a participant's view: run "
              "`facilitator URL --token-file F` with it. To join as a participant, ask for a participant link."),
}
# Who is in the room with them, as participants read it: an observer watches and is named so.
ROLE_LABELS = {"facilitator": "facilitator", "cofacilitator": "co-facilitator", "observer": "observer"}
# Endings that are refusals of this link, not the natural end of a session.
REFUSED = {"unauthorized", "forbidden", "version", "staff"}


# --- the link to the server: connect, resume, retry -------------------------------

class Link:
    """Keeps one participant connected: resumes after every drop, retries commands
    with the same id (the server applies an id once), and dedupes events by seq."""

    def __init__(self, url: str, token: str, *, on_change: Callable[[str], None],
                 on_status: Callable[[str, str], None]):
        self.client = SessionClient(url, token, name="join", on_frame=self._frame)
        self.on_change = on_change
        self.on_status = on_status
        self.mirror: Mirror | None = None
        self.last_seq: int | None = None
        self.offset = 0.0                  # server clock minus ours
        self.connected = asyncio.Event()
        self.final: str | None = None
        self.final_message = ""
        self.prefix = secrets.token_hex(3)
        self._ids = itertools.count(1)
        self.welcomes: list[tuple[int, bool]] = []

    def now(self) -> float:
        return time.time() + self.offset

    def _frame(self, f) -> None:
        if self.final is not None:
            return
        if isinstance(f, Welcome):
            if f.you.role != "participant" or not (f.resumed or isinstance(f.state, ParticipantView)):
                # a staff token: the server welcomes it with the whole room, which this client
                # must not show, and every retry would be welcomed the same way
                self._finish("staff", "")
                return
            self.offset = f.server_time - time.time()
            self.welcomes.append((f.seq, f.resumed))
            if not f.resumed and f.state is not None:
                self.mirror = Mirror.from_welcome(f, self.mirror)
                self.last_seq = f.seq
            self.on_change("welcome")
        elif isinstance(f, EventFrame):
            if self.mirror is None or (self.last_seq is not None and f.seq <= self.last_seq):
                return      # a repeat
            self.last_seq = f.seq
            self.mirror.apply(f)
            self.on_change(type(f.ev).__struct_config__.tag)
        elif isinstance(f, Pong):
            self.offset = f.server_time - time.time()
            if self.last_seq is not None and f.seq > self.last_seq:
                self.last_seq = f.seq

    async def run(self) -> None:
        attempt = 0
        while self.final is None:
            self.on_status("connecting" if self.last_seq is None else "reconnecting", "")
            try:
                await self.client.connect(resume=self.last_seq)
            except ClientError as exc:
                code, message = (exc.args + ("", ""))[:2]
                final = refusal(code, message)
                if final is not None:
                    self._finish(final, message)
                    return
                self.on_status("not-open" if code == "closed" else "reconnecting", message)
            except (OSError, asyncio.TimeoutError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                # never connected yet: say that the server cannot be reached, not that we are "back soon"
                self.on_status("unreachable" if self.last_seq is None else "reconnecting", type(exc).__name__)
            else:
                if self.final is not None:          # the welcome itself was final (a staff token)
                    await self.client.close()
                    return
                began = time.monotonic()
                self.connected.set()
                self.on_status("online", "")
                pinger = asyncio.create_task(self._pings())
                await self.client.closed.wait()
                pinger.cancel()
                self.connected.clear()
                if self.final is not None:
                    return
                ws = self.client.ws
                reason = ws.close_reason if ws is not None and ws.close_reason else ""
                if self.client.close_code == 4000:
                    self._finish("replaced", reason)
                    return
                if reason in FINAL_REASONS:
                    self._finish(FINAL_REASONS[reason], reason)
                    return
                if time.monotonic() - began >= STEADY_AFTER:
                    attempt = 0
                self.on_status("reconnecting", "")
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            attempt += 1
            await asyncio.sleep(delay / 2 + secrets.randbelow(1000) / 1000 * delay / 2)

    async def _pings(self) -> None:
        try:
            while True:
                await self.client.sync(timeout=PONG_WITHIN)
                await asyncio.sleep(PING_EVERY)
        except (ClientError, asyncio.TimeoutError, TimeoutError, ConnectionClosed):
            await self.client.drop()     # no answer: the network is gone even if the socket has not noticed
        except asyncio.CancelledError:
            pass

    def _finish(self, kind: str, message: str) -> None:
        self.final, self.final_message = kind, message
        self.on_change("final")

    async def send(self, cmd: c.Command) -> Ack | Error:
        cid = f"{self.prefix}-{next(self._ids)}"
        while self.final is None:
            await self.connected.wait()
            try:
                return await self.client.command(cmd, cid, timeout=15)
            except (ClientError, ConnectionClosed, asyncio.TimeoutError, TimeoutError):
                await asyncio.sleep(0.2)     # sent again, with the same id, once back
        return Error(id=cid, code="closed", message="the session is over")

    async def close(self) -> None:
        self.final = self.final or "closing"
        await self.client.close()


def refusal(code: str, message: str) -> str | None:
    """The ending for a refused hello that no retry can change, or None to keep trying."""
    if code == "forbidden" and "removed" in message:
        return "removed"
    if code in FINAL_CODES:
        return code
    if code == "closed" and "ended" in message:
        return "ended"
    return None
