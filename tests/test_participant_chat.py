"""Every word of every chat message reaches the participant's terminal, at every width.

Issue 14, item 1: at 100 columns the crisis line "… call or text 988 or go to your
nearest emergency room …" arrived without its middle. These tests read the screen
itself (what the compositor draws, cell by cell), not the widget's data: the words
must be visible, or reachable by scrolling the chat, after wrapping at the width the
terminal has, and again after the terminal is resized."""
from __future__ import annotations

import re
import time

import pytest
from textual.widgets import Input

from facilitator.participant.app import ParticipantApp
from protocol import commands as c
from server.client import SessionClient

ROOM = "chat-widths"
MESSAGES = [
    "If you are in crisis tonight call or text 988 or go to your nearest emergency room right away please.",
    "Thanks everyone for holding space tonight. I noticed I was in a tough spot, and I used the grounding "
    "skill we practised last week before it got worse; next time I want to call my sponsor earlier, when "
    "I first notice the warning signs.",
    "Resources: https://example.org/very/long/path/to/the/crisis-resources-page?utm_source=group&lang=en#section-3 "
    "(open it in a browser)",
    "Supercalifragilisticexpialidocious" * 3,
    "[988] is the number; [bold]not bold[/bold], [link=https://x.org]a link[/] and [/] stay as typed",
    "short",
    " ".join(f"word{i}" for i in range(250)),        # longer than the log is tall: read by scrolling
]


def compact(s: str) -> str:
    return re.sub(r"\s+", "", s)


async def until(pilot, check, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def read_chat_off_the_screen(pilot) -> str:
    """The chat log's whole text as drawn on screen, page by page from the top."""
    app = pilot.app
    log = app.query_one("#chat-log")
    rows: dict[int, str] = {}
    page = 0
    while True:
        log.scroll_to(y=page, animate=False, immediate=True)
        await pilot.pause(0.05)
        region = log.scrollable_content_region     # inside its scrollbar
        top = round(log.scroll_y)
        strips = app.screen._compositor.render_strips()
        for dy in range(region.height):
            rows[top + dy] = strips[region.y + dy].crop(region.x, region.right).text
        if top >= log.max_scroll_y:
            break
        page = top + region.height
    log.scroll_end(animate=False, immediate=True)
    return "\n".join(rows[k] for k in sorted(rows))


async def into_the_room(server, width: int):
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await fac.command(c.Configure(title="Widths"))
    await fac.command(c.Open())
    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p1", "Alex"))
    return fac, app


@pytest.mark.parametrize("width", [40, 100, 160])
async def test_every_word_of_every_message_is_on_screen_at_every_width(server, width):
    fac, app = await into_the_room(server, width)
    async with app.run_test(size=(width, 40)) as pilot:
        stages = app.query_one("#stages")
        await until(pilot, lambda: stages.current == "location", "the location")
        app.query_one("#loc-input", Input).value = "Home"
        await pilot.press("enter")
        await until(pilot, lambda: stages.current == "waiting", "the waiting room")
        await fac.command(c.Admit(target="p1"))
        await until(pilot, lambda: stages.current == "room", "the room")
        for i, msg in enumerate(MESSAGES):
            r = await fac.command(c.Chat(text=msg))
            assert type(r).__name__ == "Ack", r
            await until(pilot, lambda: len(app.mirror.view.chat) == i + 1, f"message {i}")
        await pilot.pause(0.2)
        # the width the messages arrived at, then narrower and wider ones: a resize wraps again
        for w in [width] + [x for x in (60, 40, 80, 160) if x != width]:
            if w != width:
                await pilot.resize_terminal(w, 40)
                await pilot.pause(0.2)
            # a loaded machine may take a moment to lay out again after a resize: read until
            # the screen settles, and judge the last reading
            deadline = time.monotonic() + 5
            while True:
                shown = compact(await read_chat_off_the_screen(pilot))
                missing = [m for m in MESSAGES if compact(m) not in shown]
                if not missing or time.monotonic() > deadline:
                    break
                await pilot.pause(0.2)
            assert not missing, f"at {w} columns (arrived at {width}) the screen lacks: {missing[0][:40]}…"
            # each message once, in order
            at = [shown.index(compact(m)) for m in MESSAGES[:-1]]
            assert at == sorted(at), f"order at {w} columns"
    await fac.close()


async def test_brackets_in_names_broadcasts_agreements_and_polls_are_shown_as_typed(server):
    """Textual reads `[...]` as markup by default: every text from people is shown as plain text."""
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await fac.command(c.Configure(title="[Wed] group", agreement="[b]What is said here[/b] stays here [1]."))
    await fac.command(c.Open())
    sam = SessionClient(server.url, server.token(ROOM, "participant", "p2", "Sam [he/him]"), name="sam")
    await sam.connect()
    await sam.command(c.AcceptAgreement())
    await fac.command(c.Admit(target="p2"))
    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p1", "Alex"))
    async with app.run_test(size=(160, 60)) as pilot:
        stages = app.query_one("#stages")
        await until(pilot, lambda: stages.current == "agreement", "the agreement")
        # the stage switches before the screen is drawn again: wait for the words themselves
        await until(pilot, lambda: "[b]Whatissaidhere[/b]stayshere[1]." in compact(screen(app)),
                    "the agreement shown as typed, brackets and all")
        await pilot.press("space")
        await pilot.click("#agree-btn")
        await until(pilot, lambda: stages.current == "location", "the location")
        app.query_one("#loc-input", Input).value = "Home"
        await pilot.press("enter")
        await until(pilot, lambda: stages.current == "waiting", "the waiting room")
        await fac.command(c.Admit(target="p1"))
        await until(pilot, lambda: stages.current == "room", "the room")
        await fac.command(c.PollCreate(id="q", question="[x] How is [this] week?", options=["[ok]", "not [ok]"]))
        await fac.command(c.PollOpen(id="q"))
        await fac.command(c.BreakoutsPlan(rooms=1))
        await fac.command(c.BreakoutsOpen(minutes=5))
        await fac.command(c.BreakoutsBroadcast(text="[988] if you need it"))
        await until(pilot, lambda: app.mirror.broadcasts, "the broadcast")
        await pilot.pause(0.3)
        shown = compact(screen(app))
        for typed in ("[Wed]group", "Sam[he/him]", "[x]Howis[this]week?", "[ok]", "not[ok]",
                      "[988]ifyouneedit"):
            assert typed in shown, typed
    await sam.close()
    await fac.close()


def screen(app) -> str:
    return "\n".join(s.text for s in app.screen._compositor.render_strips())


async def test_a_long_poll_option_keeps_every_word_on_a_narrow_terminal(server):
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await fac.command(c.Configure(title="Options"))
    await fac.command(c.Open())
    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p1", "Alex"))
    options = ["Calling a sponsor or a friend from the group before it gets worse", "A walk", "Other"]
    async with app.run_test(size=(40, 60)) as pilot:
        stages = app.query_one("#stages")
        await until(pilot, lambda: stages.current == "location", "the location")
        app.query_one("#loc-input", Input).value = "Home"
        await pilot.press("enter")
        await until(pilot, lambda: stages.current == "waiting", "the waiting room")
        await fac.command(c.Admit(target="p1"))
        await until(pilot, lambda: stages.current == "room", "the room")
        await fac.command(c.PollCreate(id="help", question="What helped most this week?", options=options))
        await fac.command(c.PollOpen(id="help"))
        await until(pilot, lambda: app.query("#poll-help"), "the poll")
        deadline = time.monotonic() + 5
        # one column at 40: the rows of the poll card, without their borders, read as one text
        while compact(options[0]) not in re.sub("[│▊▎]", "", compact(screen(app))):
            assert time.monotonic() < deadline, screen(app)
            await pilot.pause(0.1)
        await fac.command(c.PollClose(id="help"))
        # "choose all that apply": the same long option, as a box to tick
        await fac.command(c.PollCreate(id="all", kind="multi", question="And which of these?", options=options))
        await fac.command(c.PollOpen(id="all"))
        await until(pilot, lambda: app.query("#poll-all Tick") and not app.query("#poll-help"), "the second poll alone")
        deadline = time.monotonic() + 5
        while compact(options[0]) not in re.sub("[│▊▎]", "", compact(screen(app))):
            assert time.monotonic() < deadline, screen(app)
            await pilot.pause(0.1)
        ticks = list(app.query("#poll-all Tick"))
        ticks[0].value = True
        ticks[2].value = True
        await pilot.click("#poll-all .send")
        host = server.hub.rooms[ROOM]
        await until(pilot, lambda: host.visible.polls["all"].answers.get("p1") == [options[0], "Other"], "the answer")
    await fac.close()
