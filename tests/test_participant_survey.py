"""The satisfaction survey in the terminal client: answered with keys alone, after which
the client says only that the answers were sent."""
from __future__ import annotations

from textual.widgets import Static

from facilitator.participant.app import ParticipantApp
from protocol import commands as c
from server.client import SessionClient
from server.engine.survey import ITEMS
from tests.test_participant_app import ROOM, ok, snap, until


async def test_a_participant_answers_the_survey_with_keys_in_the_terminal(server):
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await ok(fac, c.Configure(title="Wednesday group", survey=True))
    await ok(fac, c.Open())
    host = server.hub.rooms[ROOM]
    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p1", "Alex"))
    async with app.run_test(size=(100, 60)) as pilot:
        stages = app.query_one("#stages")
        await until(pilot, lambda: stages.current == "location", "the location")
        await pilot.press(*"Home", "enter")
        await until(pilot, lambda: stages.current == "waiting", "the waiting room")
        await ok(fac, c.Admit(target="p1"))
        await until(pilot, lambda: stages.current == "room", "the room")
        card = app.query_one("#survey-card")
        assert not card.display
        await ok(fac, c.SurveyOpen())
        await until(pilot, lambda: card.display and bool(app.query("#survey-r2")), "the survey")
        shown = "\n".join(str(w.render()) for w in card.query("Label"))
        assert all(item in shown for item in ITEMS)          # the server's wording
        await snap(pilot, "survey-open")
        # keys: focus the first item's ratings; right arrow moves, Enter chooses; Tab to the next
        app.query_one("#survey-r0").focus()
        await pilot.press("right", "right", "right", "enter")        # 4
        await pilot.press("tab", "right", "enter")                    # 2
        await pilot.press("tab", "right", "right", "right", "right", "enter")   # 5
        await pilot.press("tab", *"Thanks", "tab", "enter")
        await until(pilot, lambda: host.visible.survey is not None and "p1" in host.visible.survey.ratings,
                    "the answers recorded")
        assert host.visible.survey.ratings["p1"] == [4, 2, 5]
        assert host.visible.survey.comments["p1"] == "Thanks"
        await until(pilot, lambda: "Thank you" in str(app.query_one("#survey-status", Static).render()),
                    "the thanks")
        assert not app.query("#survey-r0")
        await snap(pilot, "survey-answered")
        assert app.mirror.view.survey.answered
    await fac.close()
