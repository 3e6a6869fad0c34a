"""The satisfaction survey on the console: the facilitator asks it with keys, watches the
answers come in (counts and medians, nobody named), closes it; and a program's results
across its sessions, from the program screen."""
from __future__ import annotations

import pytest

from facilitator.app import ConsoleApp
from facilitator.harness import Room, configure, screen_text, until
from facilitator.screens.survey import SurveyResultsScreen, SurveyScreen
from protocol import commands as c
from server.engine.survey import ITEMS
from tests.test_console_program import db, opened, played, program_app  # noqa: F401 - fixtures


@pytest.fixture
async def room(tmp_path):
    r = await Room(str(tmp_path / "record.db")).start(configure(survey=True))
    yield r
    await r.stop()


def console(room: Room) -> ConsoleApp:
    return ConsoleApp(url=room.url, token=room.token("facilitator", ("fac-1", "Dana")), backoff=(0.05, 0.2),
                      key_guard=0)


async def test_the_facilitator_asks_the_survey_and_sees_tonights_answers(room):
    app = console(room)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.conn == "online" and app.room is not None, what="online")
        people = []
        for pid, name in (("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey")):
            people.append(await room.participant(pid, name))
            await room.ok(await _lead(room), c.Admit(target=pid))
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SurveyScreen), what="the survey screen")
        assert "Not asked yet" in screen_text(app)
        await pilot.press("o")
        await until(pilot, lambda: app.room.survey is not None and app.room.survey.state == "open",
                    what="the survey asked")
        await room.ok(people[0], c.SurveyAnswer(ratings=[5, 4, 2], comment="Good pace tonight."))
        await room.ok(people[1], c.SurveyAnswer(ratings=[3, 4, 5]))
        await room.ok(people[2], c.SurveyAnswer(ratings=[4, 1, 4]))
        await until(pilot, lambda: len(app.room.survey.ratings) == 3, what="three answers mirrored")
        await until(pilot, lambda: "3 of 3 participant(s) answered" in screen_text(app), what="the count")
        text = screen_text(app)
        # item 1: 5, 3, 4 -> median 4; item 2: 4, 4, 1 -> 4; item 3: 2, 5, 4 -> 4
        row = {i: numbers(next(ln for ln in text.splitlines() if ITEMS[i][:20] in ln)) for i in range(3)}
        assert row[0][-6:] == ["0", "0", "1", "1", "1", "4"]      # counts of 1..5, then the median
        assert row[1][-6:] == ["1", "0", "0", "2", "0", "4"]
        assert row[2][-6:] == ["0", "1", "0", "1", "1", "4"]
        assert "Good pace tonight." in text and "Alex" not in text     # comments, unattributed
        await pilot.press("o")
        await until(pilot, lambda: app.room.survey.state == "closed", what="the survey closed")
        await until(pilot, lambda: "Survey closed" in screen_text(app), what="closed on screen")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SurveyScreen), what="back to the room")


def numbers(line: str) -> list[str]:
    return [t for t in line.split() if t.replace(".", "", 1).isdigit()]


async def _lead(room: Room):
    """A second staff connection that admits (the console's own keys are tested elsewhere)."""
    if "lead" not in room.people:
        from server.client import SessionClient
        cli = SessionClient(room.url, room.token("cofacilitator", ("c1", "Sam")), name="lead")
        await cli.connect()
        room.people["lead"] = cli
    return room.people["lead"]


async def test_a_session_without_the_survey_says_how_to_turn_it_on(tmp_path):
    r = await Room(str(tmp_path / "record.db")).start()
    try:
        app = console(r)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.conn == "online" and app.room is not None, what="online")
            await pilot.press("S")
            await until(pilot, lambda: isinstance(app.screen, SurveyScreen), what="the survey screen")
            assert "survey = true" in screen_text(app)
            await pilot.press("o")            # nothing to ask: no command is sent
            await pilot.pause(0.2)
            assert app.room.survey is None
    finally:
        await r.stop()


async def test_results_across_the_programs_sessions_from_the_program_screen(db):  # noqa: F811
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(160, 45)) as pilot:
        await opened(pilot, app)
        await pilot.press("P")
        await until(pilot, lambda: "Program" in screen_text(app) and "Alex" in screen_text(app),
                    timeout=15, what="the program screen")
        await pilot.press("v")     # s is the program's settings
        await until(pilot, lambda: isinstance(app.screen, SurveyResultsScreen), what="the results screen")
        await until(pilot, lambda: "asked in 1 of" in screen_text(app), timeout=15, what="the results")
        text = screen_text(app)
        row = next(ln for ln in text.splitlines() if "iop-evening-2026-11-12" in ln)
        # 12 November, hand-computed: helpful 5,4,3,5 -> 4.5; respected 4,4,5,3 -> 4; recommend 5,3,4,2 -> 3.5
        words = [t for t in row.split() if t not in ("│", "┃", "▎", "▊")]
        assert words[:8] == ["2026-11-12", "iop-evening-2026-11-12", "4", "of", "5", "4.5", "4", "3.5"], words
        before = next(ln for ln in text.splitlines() if "iop-evening-2026-11-10" in ln)
        assert "not asked" in before
        assert "Alex" not in text and "Taylor" not in text


async def test_closing_a_session_offers_the_survey_not_yet_asked(room):
    from facilitator.screens.prompt import ConfirmScreen
    app = console(room)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.conn == "online" and app.room is not None, what="online")
        app.action_close_session()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the close's question")
        assert "satisfaction survey has not been asked" in app.screen.question
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="back")
        await pilot.press("S", "o")
        await until(pilot, lambda: app.room.survey is not None, what="asked")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SurveyScreen), what="back to the room")
        app.action_close_session()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the close's question")
        assert "satisfaction survey" not in app.screen.question
