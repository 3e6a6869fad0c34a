"""The participant client's link to the server: an asyncio loop over protocol/session.py's machine,
which decides when to retry, what to send again and when to stop; here are the words for each ending."""
from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from typing import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from facilitator.participant.mirror import ViewMirror
from protocol import commands as c
from protocol.frames import Ack, Error, EventFrame, Pong, Welcome
from protocol.session import Backoff, Final, Heartbeat, Retry, Session
from protocol.state import ParticipantView
from server.client import ClientError, SessionClient

# A phone on a train keeps its socket "open" with nothing arriving: ping after this long without
# a frame, and call the link dead when a pong (or anything) has not come a few seconds later.
PING_EVERY = 15.0
PONG_WITHIN = 8.0
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
    "in-use": ("This link is already open", "It is in use in another window or on another device."),
    "elsewhere": ("This session continues elsewhere", "Your link was opened in another window or on another device."),
    "staff": ("This link is for staff",
              "It opens the facilitator console, not a participant's view: run "
              "`facilitator URL --token-file F` with it. To join as a participant, ask for a participant link."),
}
# Who is in the room with them, as participants read it: an observer watches and is named so.
ROLE_LABELS = {"facilitator": "facilitator", "cofacilitator": "co-facilitator", "observer": "observer"}
# Endings that are refusals of this link, not the natural end of a session.
REFUSED = {"unauthorized", "forbidden", "version", "staff"}


# --- the link to the server: connect, resume, retry -------------------------------

class ParticipantLink:
    """Keeps one participant connected: resumes after every drop, retries commands
    with the same id (the server applies an id once), and skips repeated events.
    When to retry and when to stop is protocol/session.py's."""

    def __init__(self, url: str, token: str, *, on_change: Callable[[str], None],
                 on_status: Callable[[str, str], None]):
        self.session = Session(token, backoff=Backoff(), retry=Retry(),
                               heartbeat=Heartbeat(ping_every=PING_EVERY, dead_after=PING_EVERY + PONG_WITHIN,
                                                   renew_every=PING_EVERY))
        self.client = SessionClient(url, token, name="join", on_frame=self._frame, session=self.session,
                                    skip_repeats=True)
        self.on_change = on_change
        self.on_status = on_status
        self.mirror: ViewMirror | None = None
        self.offset = 0.0                  # server clock minus ours
        self.connected = asyncio.Event()
        self.final: str | None = None
        self.final_message = ""
        self.prefix = secrets.token_hex(3)
        self._ids = itertools.count(1)
        self.welcomes: list[tuple[int, bool]] = []

    @property
    def last_seq(self) -> int | None:
        return self.session.position

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
                self.mirror = ViewMirror.from_welcome(f, self.mirror)
            self.on_change("welcome")
        elif isinstance(f, EventFrame):
            if self.mirror is not None:
                self.mirror.apply(f)
                self.on_change(type(f.ev).__struct_config__.tag)
        elif isinstance(f, Pong):
            self.offset = f.server_time - time.time()

    async def run(self) -> None:
        while self.final is None:
            self.on_status("connecting" if self.last_seq is None else "reconnecting", "")
            detail = ""
            try:
                await self.client.connect(resume=self.last_seq)
            except ClientError as exc:
                detail = str((exc.args + ("", ""))[1])
            except (OSError, asyncio.TimeoutError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                detail = type(exc).__name__
            else:
                if self.final is not None:          # the welcome itself was final (a staff token)
                    await self.client.close()
                    return
                self.connected.set()
                self.on_status("online", "")
                await self.client.closed.wait()
                self.connected.clear()
            decision = await self.client.settled()
            if self.final is not None:
                return
            if isinstance(decision, Final):
                self._finish(decision.kind, decision.message)
                return
            # never connected yet: say that the server cannot be reached, not that we are "back soon"
            self.on_status(STATUS[decision.why], detail or decision.detail)
            await asyncio.sleep(max(0.0, decision.at - time.monotonic()))

    def _finish(self, kind: str, message: str) -> None:
        self.final, self.final_message = kind, message
        self.session.finish(kind, message)
        self.on_change("final")

    async def send(self, cmd: c.Command) -> Ack | Error:
        cid = f"{self.prefix}-{next(self._ids)}"
        try:
            while self.final is None:
                try:
                    # kept across reconnects and sent again after each welcome, with the same id
                    return await self.client.command(cmd, cid, timeout=15)
                except (asyncio.TimeoutError, TimeoutError):
                    continue        # sent again now, with the same id: applied once
                except (ClientError, ConnectionClosed):
                    break           # the session is over
        finally:
            self.client.forget(cid)
        return Error(id=cid, code="closed", message="the session is over")

    async def close(self) -> None:
        self.final = self.final or "closing"
        self.session.finish(self.final)
        await self.client.close()


# How each wait before a retry reads on the screen.
STATUS = {"unreachable": "unreachable", "not-open": "not-open", "lost": "reconnecting", "refused": "reconnecting"}
