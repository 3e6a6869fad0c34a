"""Issue 14 on the console's real path: help, quitting, reaching people, notes and flags,
keys pressed offline or as a dialog closes, and what the staff console says when it
cannot work (no server, a participant's token)."""
from __future__ import annotations

import os
import re

import pytest

from facilitator.actions import ACTIONS, BY_NAME, may, readme_keys
from facilitator.app import ConsoleApp
from facilitator.harness import Room, screen_text, until
from facilitator.local import remember_port, remembered_port, start_room_server
from protocol import commands as c

from tests.test_console_actions import console, messages, present, ready, select

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def help_text(app) -> str:
    """The whole help screen as text, also the part below the fold."""
    import io
    from rich.console import Console
    from facilitator.screens.help import help_table
    screen = app.screen
    con = Console(width=150, record=True, file=io.StringIO())
    con.print(help_table(screen.actions, screen.role_label))
    return con.export_text()


@pytest.fixture
async def room(tmp_path):
    r = await Room(str(tmp_path / "record.db")).start()
    yield r
    await r.stop()


def test_the_readme_lists_exactly_the_keys_of_the_table():
    text = open(os.path.join(ROOT, "README.md")).read()
    block = text.split("<!-- keys:start -->\n", 1)[1].split("\n<!-- keys:end -->", 1)[0]
    assert block.splitlines() == readme_keys()


def test_who_may_use_an_action_comes_from_the_engine_matrix():
    assert may("facilitator", BY_NAME["close_session"]) and not may("cofacilitator", BY_NAME["close_session"])
    assert not may("observer", BY_NAME["next_speaker"]) and may("observer", BY_NAME["help"])
    assert not may("facilitator", BY_NAME["next_speaker"], replay=True)
    # every key is bound once
    keys = [a.key for a in ACTIONS if a.key]
    assert len(keys) == len(set(keys))


async def test_question_mark_and_f1_open_help_with_only_this_roles_keys(room):
    app = console(room)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app, room)
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        assert "Stop go-around" in screen_text(app)             # on screen, not only in the model
        text = help_text(app)
        assert "Next" in text and "Stop go-around" in text and "Close session…" in text
        assert "Roster columns" in text and "breakout room: R2 in room 2" in text
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ != "HelpScreen")
        await pilot.press("f1")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")

    obs = console(room, "observer", ("o1", "Obi"))
    async with obs.run_test(size=(160, 45)) as pilot:
        await ready(pilot, obs, room)
        await pilot.press("question_mark")
        await until(pilot, lambda: type(obs.screen).__name__ == "HelpScreen")
        text = help_text(obs)
        assert "Only what an observer may do is listed." in text
        assert "Attendance" in text and "Roster columns" in text
        assert "Call on" not in text and "Flag" not in text and "Close session" not in text


async def test_q_asks_while_the_session_is_open_and_can_close_it_properly(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        await pilot.press("q")
        await until(pilot, lambda: type(app.screen).__name__ == "QuitScreen")
        assert "The session stays open on the server" in screen_text(app)
        await pilot.press("escape")                                  # stay
        await until(pilot, lambda: type(app.screen).__name__ != "QuitScreen")
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: type(app.screen).__name__ == "QuitScreen")
        await pilot.click("#close")
        await until(pilot, lambda: room.state().phase == "closed", what="the session closed")
    assert app.return_code is not None or not app.is_running


async def test_a_local_room_comes_back_on_its_port(tmp_path):
    from server.tokens import load_secret
    db = str(tmp_path / "records.db")
    secret = load_secret(str(tmp_path / "secret"))
    first, note = await start_room_server(db, secret, "tue")
    port = first.port
    await first.stop()
    assert remembered_port(str(tmp_path), "tue") == port and not note
    again, note = await start_room_server(db, secret, "tue")
    try:
        assert again.port == port and not note
    finally:
        await again.stop()
    import socket
    squatter = socket.socket()                   # another program took the room's old port
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    remember_port(str(tmp_path), "wed", taken)
    try:
        other, note = await start_room_server(db, secret, "wed")
        assert other.port != taken and "links sent earlier no longer work" in note
        await other.stop()
    finally:
        squatter.close()


async def test_a_flag_needs_a_reason_down_makes_it_urgent_and_F_clears_it(room):
    app = console(room)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"))
        select(app, "p1")
        await pilot.press("f")
        await until(pilot, lambda: type(app.screen).__name__ == "NoteScreen")
        await pilot.press("enter")                                   # no reason: refused in place
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "NoteScreen"
        assert any("reason" in m for m in messages(app))
        await pilot.press("down", *"talked about a plan", "enter")  # Down from the reason field: urgent
        await until(pilot, lambda: app.room.members["p1"].flags, what="the flag")
        [mark] = room.state().members["p1"].flags
        assert (mark.level, mark.reason) == ("urgent", "talked about a plan")
        await until(pilot, lambda: type(app.screen).__name__ == "Screen" or len(app.screen_stack) == 1)
        await pilot.press("v")                                       # the person's card shows it
        await until(pilot, lambda: type(app.screen).__name__ == "PersonScreen")
        assert "urgent talked about a plan" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await pilot.press("F")
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        await pilot.press(*"safe plan agreed", "enter")
        await until(pilot, lambda: room.state().members["p1"].flags[0].cleared_at is not None, what="cleared")
        await until(pilot, lambda: "⚑" not in app.query_one("#roster").get_row("p1")[7].plain)


async def test_notes_show_per_person_and_w_writes_to_one_person(room):
    app = console(room)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app, room)
        alex, blake = await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"))
        select(app, "p1")
        # at 80 columns the roster drops Spoke, Here and Location; its title carries them
        await until(pilot, lambda: "Roster 2/10 · Alex 0:00 0m home" in screen_text(app), what="the title")
        await pilot.press("N")
        await until(pilot, lambda: type(app.screen).__name__ == "NoteScreen")
        await pilot.press(*"quiet tonight, check in after", "enter")
        await until(pilot, lambda: app.room.notes, what="the note")
        await pilot.press("enter")                                   # Enter on the roster row: the card
        await until(pilot, lambda: type(app.screen).__name__ == "PersonScreen")
        assert "quiet tonight, check in after" in screen_text(app)
        await pilot.press("w")                                       # from the card: a private message
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        assert "Message to Alex" in screen_text(app)
        await pilot.press(*"How are you doing?", "enter")
        await until(pilot, lambda: any(x.text == "How are you doing?" for x in room.state().chat), what="sent")
        line = next(x for x in room.state().chat if x.text == "How are you doing?")
        assert line.to == "p1"
        await alex.sync(), await blake.sync()
        assert any(getattr(f.ev, "text", "") == "How are you doing?" for f in alex.events)
        assert not any(getattr(f.ev, "text", "") == "How are you doing?" for f in blake.events)


async def test_keys_typed_as_a_dialog_closes_do_not_act_on_the_room(room):
    # a longer guard than the real one: a loaded test machine may take longer than 0.5 s
    # between two of the Pilot's keys, and the test is about which keys land, not the time
    app = console(room, key_guard=2.0)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"))
        await room.ok(room.people["p1"], c.RaiseHand())
        select(app, "p1")
        await pilot.press("N")
        await until(pilot, lambda: type(app.screen).__name__ == "NoteScreen")
        # the tail of the typing lands after Enter: "n" would call the next speaker, "f" flag
        await pilot.press(*"fine", "enter", "n", "f")
        await until(pilot, lambda: app.room.notes, what="the note")
        await pilot.pause(0.3)
        assert app.room.speaker is None and len(app.screen_stack) == 1
        await pilot.pause(2.0)                                       # once the guard lapses, keys act again
        await pilot.press("n")
        await until(pilot, lambda: app.room.speaker == "p1", what="the next speaker")


async def test_a_key_pressed_offline_is_refused_at_once(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"))
        await room.ok(room.people["p1"], c.RaiseHand())
        app.conn = "offline"              # as the link reports it between a drop and a reconnect
        await pilot.press("n")
        await until(pilot, lambda: any("Offline: not sent" in m for m in messages(app)), what="the refusal")
        app.conn = "online"
        await pilot.pause(0.3)
        assert room.state().speaker is None            # never run later by surprise


async def test_no_server_says_so_instead_of_an_empty_console(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                             # nothing listens there now
    app = ConsoleApp(url=f"ws://127.0.0.1:{port}", token="x.y", backoff=(0.05, 0.2), key_guard=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.conn == "offline" and "Cannot reach" in screen_text(app))
        text = screen_text(app)
        assert "no server is listening there" in text and "Errno" not in text


async def test_a_participant_token_in_the_staff_console_says_what_is_wrong(room):
    app = ConsoleApp(url=room.url, token=room.token("participant", ("p1", "Alex")), backoff=(0.05, 0.2),
                     key_guard=0)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.conn == "refused")
        text = screen_text(app)
        assert "participant's token" in text and "facilitator join" in text
        assert "has not opened yet" not in text
        assert app.link is None                          # no retries: nothing was even tried


def test_a_missing_token_file_is_one_clear_line(tmp_path, capsys):
    from facilitator import cli
    with pytest.raises(SystemExit) as exc:
        cli.main(["ws://127.0.0.1:1", "--token-file", str(tmp_path / "nope.token"), "--log-file", "-"])
    assert str(exc.value) == f"facilitator: no token file at {tmp_path / 'nope.token'}"
    assert not re.search(r"Errno", str(exc.value))
