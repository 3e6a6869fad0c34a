"""Stories about who runs the console and what the network does to it.

A co-facilitator acting at the same moment as the facilitator, an observer
who can only watch, a console whose connection drops mid-session, and a
recorded session replayed read-only.
"""
from __future__ import annotations

import asyncio

import pytest

from facilitator.app import ConsoleApp, ReplayApp
from facilitator.components.timeline import Timeline
from facilitator.harness import Room, screen_text, until
from facilitator.replay import Replay
from protocol import commands as c
from protocol.frames import Error


@pytest.fixture
async def room(tmp_path):
    r = await Room(str(tmp_path / "record.db")).start()
    yield r
    await r.stop()


def console(room: Room, role: str = "facilitator", who=("fac-1", "Dana")) -> ConsoleApp:
    return ConsoleApp(url=room.url, token=room.token(role, who), backoff=(0.05, 0.2), key_guard=0)


async def ready(pilot, app, room) -> None:
    await until(pilot, lambda: app.conn == "online" and app.room is not None
                and app.drawn_seq >= room.state().seq, what="the console to catch up")


async def admitted(room: Room, *people: tuple[str, str]) -> None:
    """Participants who knocked and were let in by the facilitator (server-side)."""
    from facilitator.local import as_facilitator
    for pid, name in people:
        await room.participant(pid, name)
        await as_facilitator(room.server, room.room, c.Admit(target=pid))


async def test_facilitator_and_cofacilitator_act_at_once_and_agree_on_the_order(room):
    await admitted(room, ("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"))
    for pid in ("p1", "p2", "p3"):
        await room.ok(room.people[pid], c.RaiseHand())
    fac = console(room)
    co = console(room, "cofacilitator", ("c1", "Sam"))
    async with fac.run_test(size=(120, 36)) as p1, co.run_test(size=(120, 36)) as p2:
        await ready(p1, fac, room)
        await ready(p2, co, room)
        assert "Sam · co-facilitator" in screen_text(co)
        # both press "next speaker" together: two turns pass, in the server's order
        await asyncio.gather(p1.press("n"), p2.press("n"))
        await until(p1, lambda: room.state().speaker == "p2", what="two next-speakers applied")
        server = room.state()
        for pilot, app in ((p1, fac), (p2, co)):
            await until(pilot, lambda app=app: app.room.seq == server.seq)
            assert (app.room.speaker, app.room.queue) == (server.speaker, server.queue)
            assert [f.seq for f in app.mirror.log][-3:] == [f.seq for f in fac.mirror.log][-3:]
        # the co-facilitator has the same powers
        await p2.press("t")
        await until(p2, lambda: co.screen.__class__.__name__ == "TimerScreen")
        await p2.press("enter")
        await until(p1, lambda: "break" in fac.room.timers, what="the co-facilitator's timer on the facilitator's screen")


async def test_an_observer_sees_everything_and_can_do_nothing(room):
    await admitted(room, ("p1", "Alex"))
    await room.ok(room.people["p1"], c.RaiseHand())
    app = console(room, "observer", ("o1", "Obi"))
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot, app, room)
        text = screen_text(app)
        assert "Alex" in text and "Obi · observer" in text
        for word in ("Next", "Admit", "Breakouts", "Flag"):
            assert f" {word} " not in text.splitlines()[-1], f"{word} in the observer's footer"
        assert not app.check_action("next_speaker", ())
        titles = {cmd.title for cmd in app.get_system_commands(app.screen)}
        assert "Next speaker" not in titles and "Attendance" in titles
        seq = room.state().seq
        await pilot.press("n", "b", "t")
        await pilot.pause(0.2)
        assert room.state().seq == seq and app.screen is app.screen_stack[0]
        # and the server refuses anyway, in its own words
        result = await app.send(c.NextSpeaker())
        assert isinstance(result, Error) and result.code == "forbidden"
        await until(pilot, lambda: any("may not" in n.message for n in app._notifications))


async def test_a_dropped_console_keeps_its_state_resumes_and_retries_once(room):
    await admitted(room, ("p1", "Alex"), ("p2", "Blake"))
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        # the network goes; the last state stays on screen, marked as offline
        await app.link.drop()
        await until(pilot, lambda: app.conn in ("offline", "reconnecting"), what="the drop to show")
        assert "Alex" in screen_text(app)
        await room.ok(room.people["p1"], c.RaiseHand())          # happens while we are away
        await until(pilot, lambda: app.conn == "online", timeout=10, what="the reconnect")
        await until(pilot, lambda: app.room.queue == ["p1"], what="the missed event")
        assert app.mirror.resumes >= 1 and app.mirror.snapshots == 1
        assert app.mirror.gaps == 0

        # a command whose answer is lost with the connection is sent again, once,
        # under the same id, and the server applies it once
        client = app.link.client
        original = client.command
        sent_ids = []

        async def lose_the_answer(cmd, cid=None, timeout=10.0):
            sent_ids.append(cid)
            task = asyncio.ensure_future(original(cmd, cid=cid, timeout=timeout))
            await asyncio.sleep(0.05)                             # the frame is out
            await client.drop()
            return await task
        client.command = lose_the_answer
        await pilot.press("m")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        await pilot.press(*"hello group", "enter")
        await until(pilot, lambda: any(x.text == "hello group" for x in app.room.chat), timeout=10,
                    what="the chat after the retry")
        await pilot.pause(0.3)
        assert sum(1 for x in room.state().chat if x.text == "hello group") == 1
        assert len(sent_ids) == 1 and app.link.unacked == {}


async def test_replay_steps_jumps_and_matches_the_live_room(tmp_path):
    room = await Room(str(tmp_path / "record.db")).start()
    try:
        await admitted(room, ("p1", "Alex"), ("p2", "Blake"))
        await room.ok(room.people["p1"], c.RaiseHand())
        await room.ok(room.people["p2"], c.RaiseHand())
        from facilitator.local import as_facilitator
        await as_facilitator(room.server, room.room, c.NextSpeaker())
        await as_facilitator(room.server, room.room, c.Flag(target="p2", level="watch", reason="quiet"))
        await room.server.hub.flush()
        flag_seq = room.state().seq
    finally:
        await room.stop()                     # the participants' connections end too: drops
    final = room.state()
    final_seq, speaker, queue = final.seq, final.speaker, list(final.queue)
    statuses = {m.id: m.status for m in final.members.values()}

    replay = Replay.load(str(tmp_path / "record.db"), "tue")
    app = ReplayApp(replay=replay)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.1)
        assert (app.room.seq, app.room.speaker, app.room.queue) == (final_seq, speaker, queue)
        assert {m.id: m.status for m in app.room.members.values()} == statuses
        assert "replay" in screen_text(app) and "Blake" in screen_text(app)
        await until(pilot, lambda: "Step back" in screen_text(app), what="the replay's footer")
        footer = [line for line in screen_text(app).splitlines() if line.strip()][-1]
        assert "← Step back" in footer and "→ Step on" in footer and "← ←" not in footer, footer
        assert {m.id: m.status for m in app.room.members.values()} == statuses
        assert not app.check_action("next_speaker", ())
        await pilot.press("left")
        assert replay.index == replay.count - 1
        await pilot.press(*["left"] * (replay.index - flag_seq + 1))
        assert replay.index == flag_seq - 1
        assert not app.room.members["p2"].flags and app.room.speaker == "p1"   # just before the flag
        await pilot.press("home")
        assert replay.index == 0 and app.room.phase == "setup"
        await pilot.press("right", "right")
        assert replay.index == 2
        await pilot.press("end")
        assert app.room.members["p2"].flags
        await pilot.press("g")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        await pilot.press("enter")                                # 0:00 into the session
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert app.room.phase == "open" and app.room.speaker is None
        assert "event" in str(app.query_one(Timeline).render())
