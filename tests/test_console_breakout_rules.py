"""The console sets a breakout rule by keys, and opening a draft that breaks one asks
first: against a real server, driven by a Pilot."""
from __future__ import annotations

import pytest

from facilitator.app import ConsoleApp
from facilitator.harness import Room, screen_text, until
from protocol import commands as c


@pytest.fixture
async def room(tmp_path):
    r = await Room(str(tmp_path / "record.db")).start()
    yield r
    await r.stop()


async def test_a_rule_set_by_keys_is_kept_by_the_server_and_warned_about(room):
    app = ConsoleApp(url=room.url, token=room.token("facilitator", ("fac-1", "Dana")), backoff=(0.05, 0.2))
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.conn == "online" and app.room is not None, what="online")
        for pid, name in (("p5", "Emery"), ("p6", "Finley")):
            await room.participant(pid, name)
            await until(pilot, lambda pid=pid: pid in app.room.members and app.room.members[pid].status == "waiting")
            await app.send(c.Admit(target=pid))
            await until(pilot, lambda pid=pid: app.room.members[pid].status == "present", what=f"{name} admitted")
        await app.send(c.BreakoutsPlan(rooms=1))
        await pilot.press("b")
        await until(pilot, lambda: app.screen.__class__.__name__ == "BreakoutScreen")
        scr = app.screen
        await until(pilot, lambda: len(list(scr.query("RoomColumn"))) == 1)
        await until(pilot, lambda: {"p5", "p6"} <= {o.id for o in scr.query_one("#room-1").options},
                    what="both in the draft's room")
        col = scr.query_one("#room-1")
        col.focus()
        col.highlighted = [o.id for o in col.options].index("p5")
        await pilot.press("x")
        await until(pilot, lambda: app.screen.__class__.__name__ == "RulePicker", what="the picker")
        assert "Emery: keep apart from" in screen_text(app) and "Finley" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: room.state().members["p5"].apart == ["p6"], what="the rule on the server")
        # both in one room now breaks it: the console says so, and opening asks
        await until(pilot, lambda: "Emery and Finley must be apart" in screen_text(app), what="the warning")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", what="the question")
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert room.state().breakouts == "draft"
        # the same key again on the same pair drops the rule
        await until(pilot, lambda: app.screen is scr)
        col = scr.query_one("#room-1")
        col.focus()
        col.highlighted = [o.id for o in col.options].index("p5")
        await pilot.press("x")
        await until(pilot, lambda: app.screen.__class__.__name__ == "RulePicker", what="the picker again")
        assert "drop this rule" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: room.state().members["p5"].apart == [], what="the rule dropped")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: room.state().breakouts == "open", what="open without a question")


async def test_the_main_screen_counts_the_rooms_down(room):
    app = ConsoleApp(url=room.url, token=room.token("facilitator", ("fac-1", "Dana")), backoff=(0.05, 0.2))
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.conn == "online" and app.room is not None, what="online")
        await room.participant("p5", "Emery")
        await until(pilot, lambda: "p5" in app.room.members and app.room.members["p5"].status == "waiting")
        await app.send(c.Admit(target="p5"))
        await app.send(c.BreakoutsPlan(rooms=1))
        await app.send(c.BreakoutsOpen(minutes=5))
        await until(pilot, lambda: "rooms (round 1) back in 4:5" in screen_text(app)
                    or "rooms (round 1) back in 5:00" in screen_text(app), what="the countdown")
