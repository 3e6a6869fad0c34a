"""A real room on loopback with scripted people: for the tests and the benchmark.

`Room` starts an `EmbeddedServer`, sets a room up, and hands out consoles and
participants that talk to it over real websockets, so a test drives the same
code paths a live group does.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from typing import Callable

from protocol import commands as c
from protocol.commands import AgendaItem, RosterEntry
from protocol.frames import Ack, Error
from server.app import EmbeddedServer
from server.client import SessionClient
from facilitator.local import FACILITATOR, prepare_room

PEOPLE = [("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"), ("p4", "Drew"), ("p5", "Eli"), ("p6", "Finn")]


def configure(**kw) -> c.Configure:
    base = dict(
        title="Tuesday evening group", capacity=10, agreement="What is shared here stays here.",
        agenda=[AgendaItem("Check-in", 10), AgendaItem("Topic", 30)],
        roster=[RosterEntry(id=pid, name=name, apart=["p4"] if pid == "p3" else [])
                for pid, name in PEOPLE] + [RosterEntry(id="c1", name="Sam", role="cofacilitator"),
                                            RosterEntry(id="o1", name="Obi", role="observer")],
    )
    base.update(kw)
    return c.Configure(**base)


class Room:
    def __init__(self, db: str, room: str = "tue", clock=None):
        self.db, self.room, self.clock = db, room, clock
        self.server: EmbeddedServer | None = None
        self.people: dict[str, SessionClient] = {}

    async def start(self, config: c.Configure | None = None, open_it: bool = True) -> "Room":
        self.server = await EmbeddedServer(self.db, secrets.token_hex(32).encode(), clock=self.clock).start()
        await prepare_room(self.server, self.room, config or configure(), open_it=open_it)
        return self

    async def stop(self) -> None:
        for p in self.people.values():
            try:
                await asyncio.wait_for(p.close(), 2)
            except Exception:  # noqa: BLE001 - tearing down
                pass
        await self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, role: str = "facilitator", who: tuple[str, str] = FACILITATOR) -> str:
        return self.server.token(self.room, role, who[0], who[1])

    async def participant(self, pid: str, name: str, *, agree: bool = True, where: str | None = "home") -> SessionClient:
        """Connects a participant who knocks, accepts the agreement and checks in."""
        client = SessionClient(self.url, self.token("participant", (pid, name)), name=pid)
        await client.connect()
        self.people[pid] = client
        if agree:
            await self.ok(client, c.AcceptAgreement())
        if where:
            await self.ok(client, c.ShareLocation(location=where))
        return client

    async def ok(self, client: SessionClient, cmd: c.Command) -> Ack:
        result = await client.command(cmd)
        if isinstance(result, Error):
            raise AssertionError(f"{cmd} refused: {result.code} {result.message}")
        return result

    def state(self):
        """The server's own state of the room (what the consoles must converge to)."""
        return self.server.hub.room(self.room).state


async def until(pilot, cond: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Lets the app run until `cond()` holds; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await pilot.pause(0.02)


def screen_text(app) -> str:
    """The top screen as plain text, line by line, as a person would read it."""
    return "\n".join("".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips())
