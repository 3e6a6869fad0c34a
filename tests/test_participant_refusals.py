"""A link that cannot work ends with what to do, once, instead of retrying forever
(issue 14, item 9, the participant's half). The real client in a real terminal too."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from textual.widgets import Static

from facilitator.participant import cli as pa
from facilitator.participant.app import ParticipantApp
from protocol import commands as c
from server import tokens
from server.client import SessionClient

ROOM = "refusals"


async def until(pilot, check, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def shown(app, selector) -> str:
    return str(app.query_one(selector, Static).render())


def counting_hellos(server) -> list:
    """Every hello the server handles, whoever sends it."""
    seen = []
    join = server.hub.join

    async def counted(host, actor, conn, resume):
        seen.append(actor.role)
        return await join(host, actor, conn, resume)
    server.hub.join = counted
    return seen


async def opened(server) -> SessionClient:
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await fac.command(c.Configure(title="Refusals"))
    await fac.command(c.Open())
    return fac


@pytest.mark.parametrize("role", ["facilitator", "cofacilitator", "observer"])
async def test_a_staff_token_ends_at_once_and_says_which_client_to_use(server, role):
    fac = await opened(server)
    hellos = counting_hellos(server)
    app = ParticipantApp(server.url, server.token(ROOM, role, "s2", "Lee"))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.query_one("#stages").current == "end", "the end")
        assert "for staff" in str(app.query_one("#end-h").render())
        assert "facilitator URL --token-file" in shown(app, "#end-msg")
        await pilot.pause(2.0)      # a retry would have come within 0.5 s
        assert hellos == [role], hellos
        assert "Reconnecting" not in shown(app, "#conn")
    await fac.close()


async def test_removed_and_ended_refusals_are_final_and_say_so(server):
    fac = await opened(server)
    sam = SessionClient(server.url, server.token(ROOM, "participant", "p5", "Sam"), name="sam")
    await sam.connect()
    await fac.command(c.Admit(target="p5"))
    await fac.command(c.Remove(target="p5"))
    await sam.close()
    hellos = counting_hellos(server)
    for token, heading, ending in [
        (server.token(ROOM, "participant", "p5", "Sam"), "no longer in this session", "removed"),
        (server.token(ROOM, "participant", "f1", "Dana"), "cannot join", "forbidden"),   # a staff member's id
        (tokens.sign(b"another secret, another server", tokens.Claims(room=ROOM, role="participant", id="p6",
                                                                     name="Kim", exp=time.time() + 60)),
         "cannot be used", "unauthorized"),
    ]:
        hellos.clear()
        app = ParticipantApp(server.url, token)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.query_one("#stages").current == "end", heading)
            assert heading in str(app.query_one("#end-h").render())
            assert app.link.final == ending
            await pilot.pause(1.0)
        assert len(hellos) <= 1, (ending, hellos)      # a bad signature never reaches the room
    await fac.command(c.Close())
    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p7", "Late"))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.query_one("#stages").current == "end", "the end")
        assert "ended" in str(app.query_one("#end-h").render())
    await fac.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_no_server_says_it_cannot_be_reached_and_keeps_trying():
    port = free_port()            # nothing listens there
    app = ParticipantApp(f"ws://127.0.0.1:{port}/ws", "x.y")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "cannot be reached" in shown(app, "#start-msg"), "the offline message")
        assert f"127.0.0.1:{port}" in shown(app, "#start-msg")
        assert "Errno" not in shown(app, "#start-msg") and "Offline" in shown(app, "#conn")
        assert app.link.final is None        # the server may yet start: it keeps trying


def test_a_missing_token_file_is_one_clear_line(tmp_path, capsys):
    missing = tmp_path / "no-such-token"
    assert pa.main(["http://127.0.0.1:9", "--token-file", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "token file" in err
    assert "Errno" not in err and "Traceback" not in err
    d = tmp_path / "a-directory"
    d.mkdir()
    assert pa.main(["http://127.0.0.1:9", "--token-file", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read the token file" in err and "Errno" not in err


SOCKET = f"pcl-test-{os.getpid()}"


def tmux(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", SOCKET, "-f", "/dev/null", *args], **kw)


@pytest.mark.usefixtures("needs_tmux")
async def test_in_a_real_terminal_a_facilitator_token_stops_and_the_chat_keeps_every_word(server, tmp_path):
    """`facilitator join URL --token-file F` in tmux at 100 columns: the staff token ends at once
    with what to do, and a participant sees the whole crisis line."""
    fac = await opened(server)
    hellos = counting_hellos(server)
    env = f"unset COLUMNS LINES; TERM=xterm-256color PYTHONPATH={os.getcwd()}"
    exe = f"{sys.executable} -m facilitator.cli join {server.url}"

    async def screen_until(session, cond, what, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            out = tmux("capture-pane", "-p", "-J", "-t", session, capture_output=True, text=True).stdout
            if cond(out):
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen was:\n{out}")
            await asyncio.sleep(0.2)

    staff = tmp_path / "staff-token"
    staff.write_text(server.token(ROOM, "facilitator", "f9", "Olive") + "\n")
    part = tmp_path / "token"
    part.write_text(server.token(ROOM, "participant", "p1", "Alex") + "\n")
    s1, s2 = f"pcl-{uuid.uuid4().hex[:6]}", f"pcl-{uuid.uuid4().hex[:6]}"
    try:
        tmux("new-session", "-d", "-s", s1, "-x", "100", "-y", "30",
             f"{env} {exe} --token-file {staff}; sleep 30", check=True)
        out = await screen_until(s1, lambda s: "for staff" in s, "the staff ending")
        await asyncio.sleep(1.5)
        assert hellos.count("facilitator") == 1, hellos
        assert "Reconnecting" not in out
        tmux("send-keys", "-t", s1, "C-q")
        await screen_until(s1, lambda s: "facilitator join: this link is for staff" in s, "the line left in the shell")

        tmux("new-session", "-d", "-s", s2, "-x", "100", "-y", "30", f"{env} {exe} --token-file {part}", check=True)
        await screen_until(s2, lambda s: "Where are you right now" in s, "the location")
        tmux("send-keys", "-t", s2, "Home", "Enter")
        for _ in range(100):
            m = server.hub.rooms[ROOM].visible.members.get("p1")
            if m is not None and m.status == "waiting" and m.location:
                break
            await asyncio.sleep(0.1)
        await fac.command(c.Admit(target="p1"))
        await fac.command(c.Chat(text="If you are in crisis tonight call or text 988 or go to your nearest "
                                      "emergency room right away please."))
        out = await screen_until(s2, lambda s: "please." in s, "the crisis line")
        # the right-hand card's cells, row by row: the chat as the terminal shows it
        right = "".join(row.rsplit("│", 2)[1] for row in out.splitlines() if row.count("│") >= 2)
        assert "Ifyouareincrisistonightcallortext988orgotoyournearestemergencyroomrightawayplease." \
            in "".join(right.split()), out
    finally:
        tmux("kill-server", capture_output=True)
        await fac.close()


async def test_a_denied_participant_is_told_and_not_retried(server):
    fac = await opened(server)
    hellos = counting_hellos(server)
    app = ParticipantApp(server.url, server.token(ROOM, "participant", "p8", "Noa"))
    async with app.run_test(size=(100, 30)) as pilot:
        host = server.hub.rooms[ROOM]
        await until(pilot, lambda: getattr(host.visible.members.get("p8"), "status", "") == "waiting", "knocking")
        r = await fac.command(c.Deny(target="p8"))
        assert type(r).__name__ == "Ack", r
        await until(pilot, lambda: app.query_one("#stages").current == "end", "the end")
        assert "not admitted" in str(app.query_one("#end-h").render())
        assert "contact your program" in shown(app, "#end-msg")
        await pilot.pause(1.0)
        assert hellos == ["participant"], hellos
    await fac.close()
