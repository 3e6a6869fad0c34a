"""Participants see who is watching: observers as observers, in the terminal client (issue 14, item 2)."""
from __future__ import annotations

import time

from textual.widgets import Input, Static

from facilitator.participant.app import ParticipantApp
from protocol import commands as c
from server.client import SessionClient
from server.engine.views import participant_view

ROOM = "people"


async def until(pilot, check, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def people(app) -> str:
    return str(app.query_one("#people", Static).render())


async def test_the_observer_is_shown_as_an_observer_when_and_while_present(server):
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await fac.command(c.Configure(title="Roles"))
    await fac.command(c.Open())
    olive = SessionClient(server.url, server.token(ROOM, "observer", "o1", "Olive"), name="olive")
    await olive.connect()
    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p1", "Alex"))
    async with app.run_test(size=(120, 40)) as pilot:
        stages = app.query_one("#stages")
        await until(pilot, lambda: stages.current == "location", "the location")
        app.query_one("#loc-input", Input).value = "Home"
        await pilot.press("enter")
        await until(pilot, lambda: stages.current == "waiting", "the waiting room")
        await fac.command(c.Admit(target="p1"))
        await until(pilot, lambda: stages.current == "room", "the room")
        # present before the participant came in: from the welcome
        await until(pilot, lambda: "Olive (observer)" in people(app), "the observer named as one")
        assert "Dana (facilitator)" in people(app)
        assert "Olive (facilitator)" not in people(app)
        # arriving and leaving afterwards: from the events
        lee = SessionClient(server.url, server.token(ROOM, "cofacilitator", "c1", "Lee"), name="lee")
        await lee.connect()
        await until(pilot, lambda: "Lee (co-facilitator)" in people(app), "the co-facilitator arriving")
        await olive.command(c.Leave())
        await until(pilot, lambda: "Olive" not in people(app), "the observer leaving")
        olive2 = SessionClient(server.url, server.token(ROOM, "observer", "o2", "Wren"), name="wren")
        await olive2.connect()
        await until(pilot, lambda: "Wren (observer)" in people(app), "a second observer")
        await olive2.drop()
        await until(pilot, lambda: "Wren" not in people(app), "the observer's connection lost")
        host = server.hub.rooms[ROOM]
        await fac.sync()
        mine = sorted((p.id, p.role) for p in app.mirror.view.present)
        assert mine == sorted((p.id, p.role) for p in participant_view(host.visible, "p1").present)
        assert ("c1", "cofacilitator") in mine
        await lee.close()
    await fac.close()
