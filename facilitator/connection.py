"""The console's end of the link: connecting, the welcome, events in socket order, the record's
health, the connection's state in the header, and commands sent.

`ConsoleLink` (facilitator/link.py) owns the socket, its retries and resumes; this mixin of `ConsoleApp`
folds what arrives into the mirror and asks for a redraw. A command is never queued while
offline: a key pressed then must not run by surprise on reconnect.
"""
from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from textual.css.query import NoMatches
from textual.widgets import Static

from facilitator.components.eventlog import EventLog
from facilitator.components.header import SessionHeader
from facilitator.link import ConsoleLink
from protocol import commands as c
from protocol.frames import Ack, Error, EventFrame, Welcome

log = logging.getLogger("facilitator")


@dataclass
class Target:
    """Where to connect, and what an embedded server lets this console do besides."""
    url: str
    token: str
    invite: Callable[[str, str], tuple[str, str, str]] | None = None
    stop: Callable[[], Awaitable[None]] | None = None
    note: str = ""
    port: int | None = None     # a local room's port, kept across restarts
    staff_link: str | None = None   # the staff voice page, with this console's own token
    hub: object | None = None   # a local server's hub: the program screen reads and writes through it
    program: tuple[str, object] | None = None   # (program id, date) of a program's session
    http_url: str = ""
    again: str = ""             # a local room: the command that brings it back after quitting ("" for the demo)


def token_role(token: str) -> str | None:
    """The role a token claims, read without checking its signature: only to explain a
    mistake before connecting. The server still decides who may do what."""
    try:
        payload = token.split(".")[0]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims.get("role") if isinstance(claims, dict) else None
    except (ValueError, UnicodeDecodeError, IndexError):
        return None


def staff_token_problem(role: str | None) -> str | None:
    if role == "participant":
        return ("This is a participant's token: the staff console needs a facilitator, co-facilitator or "
                "observer token. A participant joins with: facilitator join URL --token-file FILE")
    return None


class Connection:
    """Frames from the link arrive on the app's loop, in socket order."""

    async def _connect(self) -> None:
        if self.setup is not None:
            self.query_one(SessionHeader).connection("connecting", "starting the local server")
            try:
                self.target = await self.setup(self)
            except Exception as exc:   # noqa: BLE001 - shown to the user, not raised into Textual
                log.exception("setup failed")
                self._setup_failed = True
                self._status("refused", str(exc))
                self.notify(str(exc), title="Could not start", severity="error", timeout=30)
                return
            if self.target.note:
                self.notify(self.target.note, timeout=12)
        elif self.start_note:
            self.notify(self.start_note, timeout=12)
        problem = staff_token_problem(token_role(self.target.token))
        if problem:
            self._status("refused", problem)
            return
        self.link = ConsoleLink(self.target.url, self.target.token, on_welcome=self._on_welcome,
                         on_event=self._on_event, on_status=self._status,
                         resume_from=self._resume_from, backoff=self.backoff, on_health=self._on_health)
        await self.link.run()

    async def on_unmount(self) -> None:
        if self.link is not None:
            self.link.stopping = True
            try:
                await self.link.stop()
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        if self.target is not None and self.target.stop is not None:
            await self.target.stop()
        if self._pauses is not None:
            self._pauses.uninstall()
            self._pauses = None

    def _resume_from(self) -> int | None:
        if self.need_fresh or self.mirror.state is None:
            self.need_fresh = False
            return None
        return self.mirror.seq

    def _on_welcome(self, w: Welcome) -> None:
        problem = staff_token_problem(w.you.role if getattr(w, "you", None) is not None else None)
        if problem:
            # a participant's welcome in a staff console: stop, and say what to do instead
            self._status("refused", problem)
            if self.link is not None:
                self.run_worker(self.link.stop(), group="link-drop")
            return
        self.offset = w.server_time - time.time()
        if self.mirror.welcome(w):
            self._fresh = True
        self._schedule()
        self.refresh_bindings()
        self.offer_programs()

    def _on_event(self, f: EventFrame) -> None:
        gaps = self.mirror.gaps
        if not self.mirror.fold(f):
            return
        if f.ev.__class__.__name__ == "SessionClosed":
            self.call_later(self.offer_note)
        if self.mirror.gaps != gaps:
            log.warning("seq gap before %d: asking for a fresh snapshot", f.seq)
            self.need_fresh = True
            if self.link is not None:
                self.run_worker(self.link.drop(), group="link-drop")
        try:
            self.query_one(EventLog).add(self.mirror.state, f)
        except NoMatches:          # starting or shutting down: the log is not there
            pass
        self._schedule()

    def _on_health(self, h) -> None:
        try:
            self.query_one(SessionHeader).record_health(h.record, h.detail)
        except NoMatches:
            return

    def _status(self, status: str, detail: str) -> None:
        self.conn = status
        try:
            self.query_one(SessionHeader).connection(status, detail)
        except NoMatches:
            return
        self._offline_note(status, detail)
        if status == "offline" and self.mirror.state is not None:
            self.notify("Connection lost: showing the last state; reconnecting…",
                        severity="warning", timeout=4)
        elif status == "refused":
            self.notify(detail, title="The server refused this console", severity="error", timeout=30)

    def _offline_note(self, status: str, detail: str) -> None:
        """Before any room arrived, the body says why it is empty and what happens next."""
        note = self.query_one("#offline-note", Static)
        if self.room is not None or status in ("online", "connecting", "replay"):
            note.remove_class("-shown")
            self.query_one("#body").display = True
            return
        self.query_one("#body").display = False     # empty panels would only look like an empty room
        url = self.target.url if self.target is not None else ""
        if status == "refused" and getattr(self, "_setup_failed", False):
            text = f"Could not start the local server.\n{detail}"
        elif status == "refused":
            text = f"The server refused this console.\n{detail}"
        else:
            text = (f"Cannot reach the session server at {url}.\n{detail}\n"
                    "Retrying by itself. Check the address, or that the server runs "
                    "(session-server serve). q quits.")
        note.update(text)
        note.add_class("-shown")

    async def send(self, cmd: c.Command) -> Ack | Error | None:
        """Sends one command; a refusal is shown with the server's reason."""
        if self.link is None or self.conn != "online":
            # refused at once: a key pressed while offline must not run by surprise on reconnect
            self.notify("Offline: not sent. Press it again once the header says online.",
                        title="Not sent", severity="warning", timeout=5)
            return None
        # a command already under way when the link drops is retried once, only if the
        # link is back within a few seconds; later it is reported, never run by surprise
        result = await self.link.send(cmd, wait_connected=3.0)
        if isinstance(result, Error):
            self.notify(result.message, title=f"Refused ({result.code})", severity="error", timeout=6)
        elif result is None:
            self.notify("No answer from the server; it will apply the command at most once.",
                        severity="warning")
        return result

    def act(self, *cmds: c.Command) -> None:
        """Sends commands in order, off the UI path; stops at the first refusal."""
        async def run() -> None:
            for cmd in cmds:
                if not isinstance(await self.send(cmd), Ack):
                    return
        self.run_worker(run(), group="commands", exit_on_error=False)
