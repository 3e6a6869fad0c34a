"""Issue 14, items 6 and 8 on the console's real path: the message to every breakout room,
typing that must not move the facilitator between rooms, stopping a go-around, the agenda's
list, removal that asks first, and a low mood that alerts."""
from __future__ import annotations

import pytest

from facilitator.harness import Room, screen_text, until
from protocol import commands as c

from tests.test_console_actions import console, messages, palette, present, ready, recorded, select


@pytest.fixture
async def room(tmp_path):
    r = await Room(str(tmp_path / "record.db")).start()
    yield r
    await r.stop()


async def test_the_message_to_every_room_is_one_key_away_and_shows_in_the_chat(room):
    app = console(room)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"), ("p4", "Drew"))
        await app.send(c.BreakoutsPlan(rooms=2, seed=1))
        await app.send(c.BreakoutsOpen(minutes=10))
        await until(pilot, lambda: app.room.breakouts == "open", what="open rooms")
        await pilot.press("b")
        await until(pilot, lambda: len(list(app.screen.query("RoomColumn"))) == 2, what="the room columns")
        scr = app.screen
        scr.query_one("#room-2").focus()
        # typing meant for the message, while a room has focus: `l` must not listen in
        await pilot.press(*"please wrap up")
        await pilot.pause(0.2)
        assert room.state().members["fac-1"].listening is None
        assert "listened_in" not in recorded(room)
        assert any("Press m to write to every room" in m for m in messages(app))
        await pilot.press("m")                                      # the field, from anywhere
        assert app.focused is scr.query_one("#broadcast")
        await pilot.press(*"Two minutes left", "enter")
        await until(pilot, lambda: "breakouts_broadcast" in recorded(room), what="the broadcast")
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await until(pilot, lambda: any(x.to == "rooms" for x in app.room.chat), what="the broadcast folded")
        await until(pilot, lambda: "Dana → every breakout room: Two minutes" in screen_text(app),
                    what="the broadcast in the console's chat")
        # a participant's own picture does not gain it as chat (their client shows it apart)
        from server.engine.views import participant_view
        assert not any(x.text == "Two minutes left" for x in participant_view(room.state(), "p1").chat)
        # after a pause, `l` listens in again as before
        await pilot.press("b")
        await until(pilot, lambda: len(list(app.screen.query("RoomColumn"))) == 2)
        scr2 = app.screen
        scr2.query_one("#room-1").focus()
        await pilot.pause(1.1)
        await pilot.press("l")
        await until(pilot, lambda: room.state().members["fac-1"].listening == 1, what="listening in room 1")


async def test_G_stops_the_go_around_and_J_goes_back_on_the_agenda(room):
    app = console(room)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"))
        await app.send(c.GoAround(seconds=60))
        await until(pilot, lambda: app.room.go_around is not None, what="the go-around")
        await pilot.press("G")
        await until(pilot, lambda: room.state().go_around is None and room.state().speaker is None,
                    what="the round stopped")
        await pilot.press("j")                                      # Check-in → Topic
        await until(pilot, lambda: app.room.agenda_index == 1)
        await pilot.press("J")
        await until(pilot, lambda: type(app.screen).__name__ == "AgendaScreen")
        assert "▶ 2. Topic" in screen_text(app) and "1. Check-in" in screen_text(app)
        await pilot.press("up", "enter")                            # back to the check-in
        await until(pilot, lambda: room.state().agenda_index == 0, what="back to the check-in")


async def test_remove_asks_first_and_names_the_person(room):
    app = console(room)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"))
        select(app, "p1")
        await palette(pilot, app, "Remove participant")
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        assert "Remove Alex from this session?" in screen_text(app)
        assert "cannot come back" in screen_text(app)
        await pilot.press("escape")                                 # changed their mind
        await pilot.pause(0.2)
        assert room.state().members["p1"].status == "present"
        await palette(pilot, app, "Remove participant")
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        await pilot.press("enter")                                  # the reason is optional
        await until(pilot, lambda: room.state().members["p1"].status == "removed", what="removed")


async def test_the_mood_check_in_alerts_on_a_low_named_score(room):
    app = console(room)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app, room)
        [alex] = await present(pilot, app, room, ("p1", "Alex"))
        await pilot.press("p")
        await until(pilot, lambda: type(app.screen).__name__ == "PollScreen")
        await pilot.click("#ok")                                    # the mood preset, opened at once
        await until(pilot, lambda: any(p.state == "open" for p in app.room.polls.values()), what="the poll")
        poll = next(p for p in app.room.polls.values() if p.state == "open")
        assert poll.alert_at_or_below == 3
        await room.ok(alex, c.Vote(id=poll.id, value=2))
        await until(pilot, lambda: "CHECK-IN Alex low score 2" in screen_text(app), what="the alert")


async def test_long_poll_options_are_shown_whole(room):
    app = console(room)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app, room)
        await app.send(c.PollCreate(id="cope", kind="single", question="What helps most?",
                                    options=["Calling a sponsor", "A walk"]))
        await until(pilot, lambda: "cope" in app.room.polls)
        text = str(app.query_one("#poll").render())
        assert "Calling a sponsor" in text and "A walk" in text
