"""The terminal participant client (`facilitator join`), driven by a Pilot
against a real session server on loopback, with a scripted facilitator."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import msgspec
from textual.widgets import Checkbox, Input, Label, RadioSet, Static

from facilitator.participant import cli as pa
from facilitator.participant.app import ParticipantApp
from facilitator.participant.cli import read_token
from facilitator.participant.polls import PollBox
from protocol import commands as c
from server.client import SessionClient
from server.engine.views import participant_view
from server.web.links import invite_link, token_from_link

SECRET = b"t" * 32
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
ROOM = "wed-evening"


# `server`: a real server on loopback, from conftest.py


async def ok(client, cmd):
    r = await client.command(cmd)
    assert type(r).__name__ == "Ack", r
    return r


async def until(pilot, check, what="condition", timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def text(app, selector) -> str:
    return str(app.query_one(selector, Static).render())


async def snap(pilot, name: str) -> None:
    """An SVG of the terminal at this stage, beside the page's screenshots."""
    app = pilot.app
    await pilot.pause(0.1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    app.save_screenshot(filename=f"terminal-{name}.svg", path=str(SHOTS))


async def facilitator(srv, agreement="What is shared here stays here."):
    fac = SessionClient(srv.url, srv.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await ok(fac, c.Configure(title="Wednesday group", agreement=agreement,
                              agenda=[c.AgendaItem("Check-in", 10), c.AgendaItem("Skills", 40)]))
    await ok(fac, c.Open())
    return fac


async def test_a_participant_joins_in_the_terminal_and_takes_part(server):
    fac = await facilitator(server)
    host = server.hub.rooms[ROOM]
    sam = SessionClient(server.url, server.token(ROOM, "participant", "p2", "Sam"), name="sam")
    await sam.connect()
    await ok(sam, c.AcceptAgreement())
    await ok(fac, c.Admit(target="p2"))

    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p1", "Alex"))
    async with app.run_test(size=(140, 50)) as pilot:
        stages = app.query_one("#stages")
        # the agreement, by keyboard: the box has focus, space ticks it
        await until(pilot, lambda: stages.current == "agreement", "the agreement")
        assert "stays here" in text(app, "#agreement-text")
        await snap(pilot, "01-agreement")
        assert app.focused.id == "agree-box"
        await pilot.press("space")
        assert app.query_one("#agree-box", Checkbox).value
        await pilot.click("#agree-btn")
        # the location: focus in the field, Enter sends
        await until(pilot, lambda: stages.current == "location", "the location")
        assert app.focused.id == "loc-input"
        await pilot.press(*"Home office")
        await pilot.press("enter")
        await until(pilot, lambda: stages.current == "waiting", "the waiting room")
        await snap(pilot, "02-waiting")
        await until(pilot, lambda: host.visible.members["p1"].location == "Home office", "location recorded")

        await ok(fac, c.Admit(target="p1"))
        await until(pilot, lambda: stages.current == "room", "the room")
        await until(pilot, lambda: "Sam" in text(app, "#people"), "Sam present")

        # hands: F2 raises, the place in line shows
        await ok(sam, c.RaiseHand())
        await pilot.press("f2")
        await until(pilot, lambda: host.visible.queue == ["p2", "p1"], "queue p2, p1")
        await until(pilot, lambda: "2nd in line" in text(app, "#queue"), "place in line")
        await pilot.press("f2")
        await until(pilot, lambda: host.visible.queue == ["p2"], "hand lowered")

        # a poll and a questionnaire
        await ok(fac, c.PollCreate(id="arrive", question="How are you arriving?", options=["Calm", "Tired"]))
        await ok(fac, c.PollCreate(id="gad", kind="gad2"))
        await ok(fac, c.PollOpen(id="arrive"))
        await ok(fac, c.PollOpen(id="gad"))
        await until(pilot, lambda: len(app.query(PollBox)) == 2, "two polls shown")
        await pilot.pause(0.1)
        arrive = app.query_one("#poll-arrive", PollBox)
        arrive.query_one(RadioSet).query("RadioButton").last().value = True
        await pilot.click("#poll-arrive .send")
        gad = app.query_one("#poll-gad", PollBox)
        words = " ".join(str(lb.render()) for lb in gad.query(Label))
        assert "how often have you been bothered by the following?" in words       # the server's words
        assert "1. Feeling nervous, anxious or on edge" in words and "2. Not being able to stop" in words
        sets = list(gad.query(RadioSet))
        sets[0].query("RadioButton")[2].value = True
        sets[1].query("RadioButton")[0].value = True
        await pilot.click("#poll-gad .send")
        await until(pilot, lambda: host.visible.polls["arrive"].answers.get("p1") == ["Tired"], "vote")
        await until(pilot, lambda: host.visible.polls["gad"].scores.get("p1") == [2, 0], "gad-2")
        await ok(fac, c.PollShare(id="arrive"))
        await until(pilot, lambda: "Shared results (1 answer)" in str(arrive.query_one(".results", Static).render()),
                    "results shown")
        await snap(pilot, "03-room-polls")

        # a breakout room with Sam, and back
        await ok(fac, c.BreakoutsPlan(rooms=1))
        await ok(fac, c.BreakoutsOpen(minutes=5))
        await until(pilot, lambda: app.query_one("#breakout").display, "breakout shown")
        assert "Sam" in text(app, "#breakout-info")
        await ok(fac, c.BreakoutsBroadcast(text="Two minutes left to share."))
        await until(pilot, lambda: "Two minutes" in text(app, "#broadcasts"), "broadcast")
        await snap(pilot, "04-breakout")
        app.query_one("#chat-input", Input).focus()
        await pilot.press(*"hello room")
        await pilot.press("enter")
        await until(pilot, lambda: any(l.text == "hello room" and l.room == 1 for l in host.visible.chat), "room chat")
        await ok(fac, c.BreakoutsClose())
        await until(pilot, lambda: not app.query_one("#breakout").display, "back in the main room")

        # the connection is cut; the room goes on; the client resumes
        host.conns["p1"].ws.transport.abort()
        await until(pilot, lambda: host.visible.members["p1"].status == "dropped", "p1 dropped")
        await ok(fac, c.Chat(text="while you were away"))
        await ok(fac, c.TimerStart(id="t", seconds=120, label="Break"))
        await until(pilot, lambda: host.visible.members["p1"].status == "present", "p1 back", timeout=20)
        await ok(fac, c.Chat(text="sync"))
        await until(pilot, lambda: app.mirror.view.chat and app.mirror.view.chat[-1].text == "sync", "resumed")
        assert app.link.welcomes[-1][1] is True, "resumed, not a fresh snapshot"
        texts = [l.text for l in app.mirror.view.chat]
        assert texts.count("while you were away") == 1
        assert "Break" in text(app, "#timers")
        # after a drop and a resume, the whole view is the server's (the engine's one fold)
        await fac.sync()
        mine = msgspec.to_builtins(app.mirror.view)
        theirs = msgspec.to_builtins(participant_view(host.visible, "p1"))
        assert mine.pop("seq") <= theirs.pop("seq")
        assert mine == theirs

        # go-around: pass on one's own turn
        await ok(fac, c.GoAround(seconds=60, order=["p1", "p2"]))
        await until(pilot, lambda: app.query_one("#pass-btn").display, "pass button")
        assert "Your turn" in text(app, "#turn-clock")
        await snap(pilot, "05-go-around")
        await pilot.press("f3")
        await until(pilot, lambda: host.visible.speaker == "p2", "Sam's turn")

        # help, privately
        app.query_one("#help-input", Input).focus()
        await pilot.press(*"need a minute")
        await pilot.press("enter")
        await until(pilot, lambda: any(h.person == "p1" for h in host.visible.help.values()), "help")
        await until(pilot, lambda: "sent privately" in text(app, "#help-status"), "help status")

        await ok(fac, c.Close())
        await until(pilot, lambda: stages.current == "end", "the end")
        assert "ended" in str(app.query_one("#end-h").render())
    await sam.close()
    await fac.close()


async def test_before_the_session_opens_the_client_waits_then_joins(server):
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await ok(fac, c.Configure(title="No agreement group"))
    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p3", "Kim"))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "not started" in text(app, "#start-msg"), "not open yet")
        await ok(fac, c.Open())
        # no agreement configured: straight to the location
        await until(pilot, lambda: app.query_one("#stages").current == "location", "location", timeout=20)
    await fac.close()


async def test_an_expired_token_ends_with_an_explanation(server):
    await facilitator(server)
    from server import tokens
    bad = tokens.sign(server.secret, tokens.Claims(room=ROOM, role="participant", id="p9", name="X", exp=1.0))
    app = ParticipantApp(server.url, bad)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.query_one("#stages").current == "end", "the end")
        assert "cannot be used" in str(app.query_one("#end-h").render())


def test_the_token_comes_from_a_file_the_environment_or_a_prompt(tmp_path, capsys):
    link = invite_link(SECRET, ROOM, "Alex", "p1", "http://h:1", 60)
    tok = token_from_link(link)
    f = tmp_path / "tok"
    f.write_text(link + "\n")
    ns = lambda tf=None: argparse.Namespace(token_file=tf)
    assert read_token(ns(str(f)), "http://h:1", env={}) == tok
    assert read_token(ns(), "http://h:1", env={"FACILITATOR_TOKEN": tok}) == tok
    assert read_token(ns(), "http://h:1", env={}, prompt=lambda _: link) == tok
    # a link on the command line works, but says why that is unwise
    assert read_token(ns(), link, env={}) == tok
    assert "command line" in capsys.readouterr().err


def test_main_refuses_a_url_that_is_not_a_server(capsys):
    assert pa.main(["ftp://nowhere", "--token-file", "/nonexistent"]) == 2
    assert "facilitator join" in capsys.readouterr().err
