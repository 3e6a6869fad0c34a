"""The facilitator console runs a group: each action, driven by keys, against a real server.

Every test starts an embedded session server on loopback, connects the
console to it over a websocket, and checks both what the server decided and
what the console shows.
"""
from __future__ import annotations

import csv
import os

import msgspec
import pytest

from facilitator.app import ConsoleApp
from facilitator.components.roster import Roster
from facilitator.components.waiting import WaitingRoom
from facilitator.harness import Room, screen_text, until
from protocol import commands as c
from protocol import events as e
from server.record import Record


@pytest.fixture
async def room(tmp_path):
    r = await Room(str(tmp_path / "record.db")).start()
    yield r
    await r.stop()


def console(room: Room, role: str = "facilitator", who=("fac-1", "Dana"), **kw) -> ConsoleApp:
    # a Pilot types faster than any person: the guard against keys typed as a dialog closes
    # would swallow its next key; the guard has its own test
    kw.setdefault("key_guard", 0)
    return ConsoleApp(url=room.url, token=room.token(role, who), backoff=(0.05, 0.2), **kw)


async def ready(pilot, app: ConsoleApp, room: Room) -> None:
    """Waits until the console shows the room as the server has it now."""
    await until(pilot, lambda: app.conn == "online" and app.room is not None
                and app.drawn_seq >= room.state().seq, what="the console to catch up")


def select(app: ConsoleApp, pid: str) -> None:
    roster = app.query_one(Roster)
    keys = [r.key.value for r in roster.ordered_rows]
    roster.move_cursor(row=keys.index(pid))
    roster.focus()


def messages(app: ConsoleApp) -> list[str]:
    return [n.message for n in app._notifications]


async def present(pilot, app: ConsoleApp, room: Room, *people: tuple[str, str]) -> list:
    """Each person knocks and the console admits them with `a`; returns their clients."""
    clients = []
    for pid, name in people:
        clients.append(await room.participant(pid, name))
        await pilot.press("a")
        await until(pilot, lambda pid=pid: app.room.members[pid].status == "present", what=f"{name} admitted")
    return clients


async def test_a_late_joiner_waits_and_is_admitted_with_a(room):
    await room.participant("p1", "Alex")                    # auto_admit is off: Alex waits
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        assert app.query_one(WaitingRoom).option_count == 1
        assert "Alex" in screen_text(app)
        await pilot.press("a")
        await until(pilot, lambda: app.room.members["p1"].status == "present", what="admission")
        assert room.state().members["p1"].status == "present"
        await until(pilot, lambda: app.query_one(WaitingRoom).option_count == 0)
        assert "Roster 1/10" in screen_text(app)


async def test_a_hand_whose_owner_dropped_is_shown_skipped_and_next_passes_over_it(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        for client in await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake")):
            await room.ok(client, c.RaiseHand())
        await until(pilot, lambda: app.room.queue == ["p1", "p2"], what="two hands")
        await room.people["p1"].drop()
        await until(pilot, lambda: app.room.members["p1"].status == "dropped" and app.drawn_seq >= room.state().seq,
                    what="Alex's drop")
        hands = str(app.query_one("#hands").render())
        assert "Alex (dropped, skipped)" in hands and "2. ✋ Blake" in hands
        await pilot.press("n")
        await until(pilot, lambda: app.room.speaker == "p2", what="Blake, not Alex, to speak")
        assert room.state().speaker == "p2" and room.state().queue == ["p1"]   # Alex keeps the place


async def test_a_refused_command_shows_the_servers_reason(room):
    await room.participant("p1", "Alex", agree=False)       # has not accepted the agreement
    app = console(room)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot, app, room)
        await pilot.press("a")
        await until(pilot, lambda: any("agreement" in m for m in messages(app)), what="the refusal")
        assert room.state().members["p1"].status == "waiting"


async def test_speaking_queue_next_call_on_lower_and_end(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        alex, blake, _ = await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"))
        for client in (alex, blake):
            await room.ok(client, c.RaiseHand())
        await until(pilot, lambda: app.room.queue == ["p1", "p2"], what="two hands")
        await pilot.press("n")
        await until(pilot, lambda: app.room.speaker == "p1", what="Alex to speak")
        assert "▶ Alex" in screen_text(app)
        select(app, "p2")
        await pilot.press("l")
        await until(pilot, lambda: app.room.queue == [], what="Blake's hand lowered")
        select(app, "p3")
        await pilot.press("c")
        await until(pilot, lambda: app.room.speaker == "p3", what="Casey called on")
        assert app.room.members["p1"].talk > 0
        await pilot.press("e")
        await until(pilot, lambda: app.room.speaker is None, what="the turn to end")
        assert room.state().speaker is None


async def test_timer_modal_starts_and_x_extends(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        await pilot.press("t")
        await until(pilot, lambda: app.screen.__class__.__name__ == "TimerScreen")
        app.screen.query_one("#length").value = "2:30"
        app.screen.query_one("#label").value = "Break"
        await pilot.press("enter")
        await until(pilot, lambda: "break" in app.room.timers, what="the timer")
        assert app.room.timers["break"].seconds == 150
        assert "Break" in screen_text(app)
        await pilot.press("x")
        await until(pilot, lambda: app.room.timers["break"].seconds == 210, what="the extension")


async def test_mood_check_in_poll_counts_live_then_closes_and_shares(room):
    app = console(room)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app, room)
        alex, = await present(pilot, app, room, ("p1", "Alex"))
        await pilot.press("p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PollScreen")
        await pilot.click("#ok")
        await until(pilot, lambda: any(p.state == "open" for p in app.room.polls.values()), what="an open poll")
        poll = next(iter(app.room.polls.values()))
        assert (poll.kind, poll.min, poll.max) == ("scale", 0, 10)
        await room.ok(alex, c.Vote(id=poll.id, value=7))
        await until(pilot, lambda: poll.answers.get("p1") == ["7"], what="the vote")
        await until(pilot, lambda: "1 answered" in screen_text(app))
        assert "█" in screen_text(app)
        await pilot.press("o")
        await until(pilot, lambda: poll.state == "closed", what="closing")
        await pilot.press("s")
        await until(pilot, lambda: poll.shared, what="sharing")


async def test_phq2_check_in_raises_an_alert_in_the_feed(room):
    app = console(room)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app, room)
        alex, = await present(pilot, app, room, ("p1", "Alex"))
        await pilot.press("p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PollScreen")
        app.screen.query_one("#kind").value = "phq2"
        await pilot.pause()
        await pilot.click("#ok")
        await until(pilot, lambda: any(p.kind == "phq2" and p.state == "open" for p in app.room.polls.values()))
        poll = next(p for p in app.room.polls.values() if p.kind == "phq2")
        await room.ok(alex, c.Vote(id=poll.id, answers=[2, 2]))
        await until(pilot, lambda: any(a.kind == "check_in" for a in app.room.alerts), what="the alert")
        await until(pilot, lambda: "CHECK-IN" in screen_text(app))


async def test_note_and_urgent_flag_reach_the_feed_and_roster(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"))
        select(app, "p1")
        await pilot.press("N")
        await until(pilot, lambda: app.screen.__class__.__name__ == "NoteScreen")
        await pilot.press(*"quiet today")
        await pilot.press("enter")
        await until(pilot, lambda: len(app.room.notes) == 1, what="the note")
        select(app, "p1")
        await pilot.press("f")
        await until(pilot, lambda: app.screen.__class__.__name__ == "NoteScreen")
        app.screen.query_one("#urgent").value = True
        app.screen.query_one("#text").value = "mentioned not feeling safe"
        await pilot.click("#ok")
        await until(pilot, lambda: app.room.members["p1"].flags, what="the flag")
        assert app.room.members["p1"].flags[0].level == "urgent"
        await until(pilot, lambda: "⚑ FLAG" in screen_text(app) and "⚑!" in screen_text(app))


async def test_breakouts_conflict_shown_then_plan_move_open_close(room):
    app = console(room)
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"), ("p4", "Drew"))
        await pilot.press("b")
        await until(pilot, lambda: app.screen.__class__.__name__ == "BreakoutScreen")
        scr = app.screen
        # Casey and Drew must be apart: one room cannot hold them both
        scr.query_one("#rooms").value = "1"
        await pilot.click("#plan")
        await until(pilot, lambda: "apart" in scr.server_says or "conflict" in scr.server_says
                    or scr.server_says != "", what="the conflict")
        assert "✕" in screen_text(app)
        scr.query_one("#rooms").value = "2"
        await pilot.pause(0.25)                 # a button ignores clicks while it shows the last one
        await pilot.click("#plan")
        await until(pilot, lambda: app.room.breakouts == "draft" and len(app.room.rooms) == 2, what=f"a plan {scr.server_says}")
        await until(pilot, lambda: len(list(scr.query("RoomColumn"))) == 2)
        await pilot.pause(0.1)
        # move Casey next to Drew by keys: the console warns before anyone is sent
        casey_room = next(i for i, r in enumerate(app.room.rooms, 1) if "p3" in r)
        col = scr.query_one(f"#room-{casey_room}")
        col.focus()
        col.highlighted = [o.id for o in col.options].index("p3")
        await pilot.press("right_square_bracket" if casey_room == 1 else "left_square_bracket")
        await until(pilot, lambda: any("p3" in r and "p4" in r for r in app.room.rooms), what="the move")
        await until(pilot, lambda: "must be apart" in screen_text(app), what="the warning")
        # opening asks first, naming the rule; No leaves the draft as it is
        await pilot.click("#open")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", what="the question")
        assert "Casey and Drew must be apart" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is scr, what="back to the plan")
        await pilot.pause(0.2)
        assert room.state().breakouts == "draft"
        # Yes sends the override, and the record keeps it
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", what="the question again")
        await pilot.press("y")
        await until(pilot, lambda: app.room.breakouts == "open", what="open rooms")
        (body,) = [b for _s, _at, _a, t, b in Record(room.db, readonly=True).events(room.room)
                   if t == "breakouts_opened"]
        opened = msgspec.msgpack.decode(body, type=e.BreakoutsOpened)
        assert opened.override and sorted(opened.overridden[0][1:]) == ["p3", "p4"]
        await until(pilot, lambda: "back in" in screen_text(app))
        await pilot.click("#close-rooms")
        await until(pilot, lambda: app.room.breakouts == "none", what="everyone back")


async def test_attendance_screen_exports_csv(room, tmp_path):
    app = console(room, export_dir=str(tmp_path))
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"))
        await pilot.press("A")
        await until(pilot, lambda: app.screen.__class__.__name__ == "AttendanceScreen")
        assert "attended" in screen_text(app)
        await pilot.press("e")
        # the path is asked for, with a default in the export directory (never the cwd)
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen", what="the path question")
        assert app.screen.query_one("#answer").value.startswith(str(tmp_path))
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app, "last_export", None), what="the export")
        with open(app.last_export) as f:
            rows = list(csv.reader(f))
    assert rows[0][:3] == ["participant_id", "name", "status"]
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["p1"][2] == "attended" and by_id["p2"][2] == "absent"
    assert oct(os.stat(app.last_export).st_mode & 0o777) == "0o600"


async def test_palette_lists_actions_and_agenda_moves_on(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        titles = [cmd.title for cmd in app.get_system_commands(app.screen)]
        assert {"Next speaker", "Breakouts", "Attendance", "Close session…", "Keys and help"} <= set(titles)
        assert "Keys" not in titles                  # Textual's side panel is replaced by the help screen
        # the palette shows each entry's key
        helps = {cmd.title: cmd.help for cmd in app.get_system_commands(app.screen)}
        assert helps["Next speaker"].startswith("[n] ") and helps["Keys and help"].startswith("[?] ")
        await pilot.press("j")
        await until(pilot, lambda: app.room.agenda_index == 1, what="the next segment")
        await until(pilot, lambda: "Topic" in screen_text(app))


async def test_the_invite_screen_makes_a_link_and_copies_it(room, tmp_path):
    from facilitator.local import invite_fn
    from facilitator.screens.invite import InviteScreen
    from server import tokens
    app = console(room)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app, room)
        app.push_screen(InviteScreen(invite_fn(room.server, room.room, str(tmp_path / "invites"))))
        await pilot.pause()
        await pilot.press(*"Robin", "enter")
        await pilot.press("ctrl+y")
        await pilot.pause()
        link = app.clipboard
        assert link.startswith(room.server.http_url + "/#t=")
        claims = tokens.verify(room.server.secret, link.split("#t=", 1)[1], now=0)
        assert (claims.role, claims.name, claims.room) == ("participant", "Robin", room.room)
        assert "Link copied" in messages(app)


async def test_roster_cells_follow_the_room_cell_by_cell(room):
    """The roster re-renders only the cells that changed; what it shows must
    still be exactly the room: a hand, then the speaker, then neither."""
    from facilitator.components.roster import Roster
    await room.participant("p1", "Alex")
    await room.participant("p2", "Blake")
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        from facilitator.local import as_facilitator
        for pid in ("p1", "p2"):
            r = await as_facilitator(room.server, room.room, c.Admit(target=pid))
            assert type(r).__name__ == "Ack", r
        await until(pilot, lambda: sum(m.status == "present" for m in app.room.members.values()
                                       if m.role == "participant") == 2, what="both admitted")
        roster = app.query_one(Roster)

        def row(pid: str) -> str:
            return " ".join(str(cell) for cell in roster.get_row(pid))

        await room.ok(room.people["p2"], c.RaiseHand())
        await until(pilot, lambda: "✋1" in row("p2"), what="the raised hand in Blake's row")
        assert "✋" not in row("p1")
        await pilot.press("n")
        await until(pilot, lambda: "▶" in row("p2") and "✋" not in row("p2"), what="Blake speaking")
        await room.ok(room.people["p1"], c.RaiseHand())
        await until(pilot, lambda: "✋1" in row("p1"), what="Alex's hand")
        await pilot.press("n")
        await until(pilot, lambda: "▶" in row("p1") and "▶" not in row("p2"), what="the turn passing on")
        # and the painted screen agrees with the table's cells
        await pilot.pause(0.3)
        lines = [ln for ln in screen_text(app).splitlines() if "Alex" in ln and "▶" in ln]
        assert lines, screen_text(app)


# --- the queue by hand, removal, absences, listening in ------------------------------------------

def recorded(room: Room) -> list[str]:
    """The event types the server's record holds for the room, in order."""
    return [t for _, _, _, t, _ in room.server.hub.record.events(room.room)]


async def palette(pilot, app: ConsoleApp, title: str) -> None:
    """Runs a command from the command palette by typing its title, as a facilitator would."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", what="the palette")
    await pilot.press(*title)
    await pilot.pause(0.3)                      # the palette searches as you type
    await pilot.press("enter")
    await until(pilot, lambda: app.screen.__class__.__name__ != "CommandPalette", what=f"{title!r} to run")


async def test_a_hand_moves_to_the_top_by_key_and_to_a_place_from_the_palette(room):
    app = console(room)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"), ("p4", "Drew"))
        for pid in ("p1", "p2", "p3"):
            await room.ok(room.people[pid], c.RaiseHand())
        await until(pilot, lambda: app.room.queue == ["p1", "p2", "p3"], what="three hands")
        select(app, "p3")
        await pilot.press("u")
        await until(pilot, lambda: app.room.queue == ["p3", "p1", "p2"], what="Casey at the top")
        assert room.state().queue == ["p3", "p1", "p2"]
        assert recorded(room)[-1] == "queue_moved"
        await until(pilot, lambda: "1. ✋ Casey" in screen_text(app), what="Casey first in the panel")
        select(app, "p3")
        await palette(pilot, app, "Move in queue")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        app.screen.query_one("#answer").value = "3"
        await pilot.press("enter")
        await until(pilot, lambda: app.room.queue == ["p1", "p2", "p3"], what="Casey back to third")
        assert room.state().queue == ["p1", "p2", "p3"]
        await until(pilot, lambda: "3. ✋ Casey" in screen_text(app))
        # Drew has no hand up: the server refuses, and says why
        select(app, "p4")
        await pilot.press("u")
        await until(pilot, lambda: any("not in the queue" in m for m in messages(app)), what="the refusal")
        assert room.state().queue == ["p1", "p2", "p3"]


async def test_removing_a_participant_from_the_palette(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"))
        await room.ok(room.people["p1"], c.RaiseHand())
        await until(pilot, lambda: app.room.queue == ["p1"])
        select(app, "p1")
        await palette(pilot, app, "Remove participant")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        assert "Remove Alex" in screen_text(app)
        await pilot.press(*"disruptive")
        await pilot.press("enter")
        await until(pilot, lambda: app.room.members["p1"].status == "removed", what="the removal")
        assert room.state().members["p1"].status == "removed"
        assert app.room.queue == [] and room.state().queue == []       # a removed hand is gone too
        assert "removed" in recorded(room)
        await until(pilot, lambda: "Roster 1/" in screen_text(app) and "no hands raised" in screen_text(app))


async def test_excusing_an_absence_and_the_server_refusing_to_excuse_someone_who_came(room):
    app = console(room)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"))
        select(app, "p5")                                   # Eli never came
        await palette(pilot, app, "Excuse absence")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        app.screen.query_one("#answer").value = "called in sick"
        await pilot.press("enter")
        await until(pilot, lambda: app.room.members["p5"].excused == "called in sick", what="the excuse")
        assert room.state().members["p5"].excused == "called in sick"
        assert recorded(room)[-1] == "excused"
        roster = app.query_one(Roster)
        await until(pilot, lambda: "◎" in str(roster.get_row("p5")[0]), what="the excused mark")
        select(app, "p1")                                   # Alex is here: nothing to excuse
        await palette(pilot, app, "Excuse absence")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        await pilot.press("enter")
        await until(pilot, lambda: any("attended" in m for m in messages(app)), what="the refusal")
        assert room.state().members["p1"].excused is None
        assert recorded(room).count("excused") == 1


async def test_listening_in_to_a_breakout_room_and_back(room):
    app = console(room)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await ready(pilot, app, room)
        # rooms are not open yet: the server refuses, in its own words
        await palette(pilot, app, "Listen in to a breakout room")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        app.screen.query_one("#answer").value = "2"
        await pilot.press("enter")
        await until(pilot, lambda: any("no open breakout room 2" in m for m in messages(app)), what="the refusal")
        assert "listened_in" not in recorded(room)
        await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"), ("p4", "Drew"))
        await app.send(c.BreakoutsPlan(rooms=2, seed=1))
        await app.send(c.BreakoutsOpen(minutes=10))
        await until(pilot, lambda: app.room.breakouts == "open", what="open rooms")
        await pilot.press("b")
        await until(pilot, lambda: len(list(app.screen.query("RoomColumn"))) == 2, what="the room columns")
        scr = app.screen
        scr.query_one("#room-2").focus()
        await pilot.press("l")
        await until(pilot, lambda: app.room.members["fac-1"].listening == 2, what="listening in room 2")
        assert room.state().members["fac-1"].listening == 2
        assert recorded(room)[-1] == "listened_in"
        await until(pilot, lambda: "you in R2" in screen_text(app) and "Room 2 ◉ you" in screen_text(app))
        scr.query_one("#room-2").focus()
        await pilot.press("l")                               # again: back to the main room
        await until(pilot, lambda: app.room.members["fac-1"].listening is None, what="back in the main room")
        assert room.state().members["fac-1"].listening is None
        assert recorded(room).count("listened_in") == 2
        await until(pilot, lambda: "you in R" not in screen_text(app) and "◉ you" not in screen_text(app))
        # from the main screen, the palette lists the open rooms by who is in them
        await pilot.press("escape")
        titles = [cmd.title for cmd in app.get_system_commands(app.screen)]
        assert {"Listen in to room 1", "Listen in to room 2"} <= set(titles)
        await palette(pilot, app, "Listen in to room 1")
        await until(pilot, lambda: room.state().members["fac-1"].listening == 1, what="listening in room 1")
        await until(pilot, lambda: "Dana F in R1" in screen_text(app), what="the roster's staff line")


async def test_many_hands_fit_the_speaking_panel_without_laying_out_the_screen(tmp_path):
    """At 80x24 the panel keeps its size: the first hands by name, then how many
    more (and who); hands going up and down redraw it without a screen layout."""
    from facilitator.components.queue import SpeakingQueue
    from facilitator.harness import configure
    from facilitator.local import as_facilitator
    people = [(f"p{i}", n) for i, n in enumerate(
        "Alex Blake Casey Drew Eli Finn Gale Harper".split(), 1)]
    room = await Room(str(tmp_path / "record.db")).start(configure(
        capacity=12, roster=[c.RosterEntry(id=pid, name=n) for pid, n in people]))
    try:
        for pid, name in people:
            await room.participant(pid, name)
            await as_facilitator(room.server, room.room, c.Admit(target=pid))
        app = console(room)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot, app, room)
            await pilot.pause(0.3)
            panel = app.query_one(SpeakingQueue)
            region = panel.region
            layouts = []
            screen = app.screen
            original = screen._refresh_layout
            screen._refresh_layout = lambda *a, **kw: (layouts.append(1), original(*a, **kw))[1]
            for pid, _ in people:
                await room.ok(room.people[pid], c.RaiseHand())
                await until(pilot, lambda: app.drawn_seq >= room.state().seq)
            await until(pilot, lambda: "+5 more: Drew, Eli" in screen_text(app), what="the rest counted")
            text = screen_text(app)
            assert "1. ✋ Alex" in text and "3. ✋ Casey" in text and "4. ✋" not in text
            assert "8 ✋" in text                              # the panel's title counts them all
            for pid, _ in people[:7]:
                await room.ok(room.people[pid], c.LowerHand())
                await until(pilot, lambda: app.drawn_seq >= room.state().seq)
            await until(pilot, lambda: "1. ✋ Harper" in screen_text(app), what="one hand left")
            assert app.room.queue == room.state().queue == ["p8"]
            assert panel.region == region
            # before the panel had a fixed height, each of these 15 events laid out the screen
            assert len(layouts) <= 2, len(layouts)
    finally:
        await room.stop()


async def test_deny_go_around_help_answer_and_a_staff_only_message(room):
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        await present(pilot, app, room, ("p1", "Alex"), ("p2", "Blake"))
        await room.participant("p9", "Quinn")
        await until(pilot, lambda: app.query_one(WaitingRoom).option_count == 1, what="Quinn waiting")
        await pilot.press("d")                                       # deny asks first
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        assert "Turn Quinn away" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: room.state().members["p9"].status == "denied", what="Quinn denied")

        await pilot.press("g")                                       # go-around, 90 s each
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        await pilot.press(*"90", "enter")                          # typing replaces the offered 60
        await until(pilot, lambda: app.room.go_around is not None, what="the go-around")
        st = room.state()
        assert st.go_around_seconds == 90 and st.speaker == "p1" and st.turn_ends is not None
        assert "go-around" in str(app.query_one("#hands").render())

        await room.ok(room.people["p2"], c.HelpRequest(text="can we talk after?"))
        await until(pilot, lambda: app.room.help, what="the help request")
        await pilot.press("h")
        # the answer shows who asked, from where, and what they said; a reply goes to them alone
        await until(pilot, lambda: type(app.screen).__name__ == "HelpAnswerScreen")
        assert "Blake (main room) “can we talk after?”" in screen_text(app)
        await pilot.press(*"Yes, stay on after group", "enter")
        await until(pilot, lambda: all(h.acknowledged_by for h in app.room.help.values()), what="help answered")
        assert all(h.acknowledged_by == "fac-1" for h in room.state().help.values())
        await until(pilot, lambda: any(x.text == "Yes, stay on after group" for x in app.room.chat), what="reply")
        reply = next(x for x in room.state().chat if x.text == "Yes, stay on after group")
        assert reply.to == "p2"
        await room.people["p1"].sync()
        assert not any(getattr(f.ev, "text", "") == "Yes, stay on after group" for f in room.people["p1"].events)

        await pilot.press("m")
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        await pilot.press(*"@facilitators Blake asked to talk after", "enter")
        await until(pilot, lambda: any(x.text == "Blake asked to talk after" for x in app.room.chat),
                    what="the staff message")
        line = next(x for x in room.state().chat if x.text == "Blake asked to talk after")
        assert line.to == "facilitators"
        await room.people["p1"].sync()
        assert not any(getattr(f.ev, "text", "") == "Blake asked to talk after" for f in room.people["p1"].events)


def test_the_log_names_a_poll_by_what_it_asks_and_puts_what_happened_first():
    from server.wording import event_line as describe
    from protocol import events as e
    from protocol.state import Member, Poll
    from server import engine
    s = engine.new_room("r")
    s.members["p1"] = Member(id="p1", name="Alex")
    s.polls["mood"] = Poll(id="mood", question="How are you feeling right now, 0 to 10?", kind="scale")
    s.polls["phq"] = Poll(id="phq", question="Over the last 2 weeks…", kind="phq2")
    assert describe(s, e.PollClosed(id="mood")) == "poll closed: “How are you feeling right n…”"
    assert describe(s, e.PollShared(id="mood", total=7, counts={})).startswith("results shared (7 answers): “How")
    assert describe(s, e.VoteCast(id="phq", person="p1", keys=["0"])) == "Alex answered PHQ-2 check-in"


async def test_voice_in_the_roster_mute_and_floor_keys_and_measured_speech(room):
    """Who is in voice, talking now or muted shows in the roster's Q column; M mutes and
    unmutes the highlighted person, H holds and releases the floor; v shows measured speech."""
    from facilitator.screens.person import card
    from server.engine import Actor
    app = console(room)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, room)
        alex, = await present(pilot, app, room, ("p1", "Alex"))
        await room.ok(alex, c.VoiceJoin())
        await until(pilot, lambda: "p1" in app.room.in_voice, what="Alex in voice")
        roster = app.query_one(Roster)
        cell = lambda: roster.get_cell("p1", "name").plain.split()[-1]   # noqa: E731
        await until(pilot, lambda: cell() == "~", what="in-voice mark")
        # the media layer reports speech as the system, as the relay does
        host = room.server.hub.room(room.room)
        system = Actor("system", "system", "system")
        await room.server.hub.command(host, system, "va-1", c.VoiceActivity(person="p1", talking=True))
        await until(pilot, lambda: cell() == "♪", what="talking mark")
        await room.server.hub.command(host, system, "va-2", c.VoiceActivity(person="p1", talking=False))
        await until(pilot, lambda: app.room.members["p1"].talking_since is None)
        assert app.room.members["p1"].voice_talk > 0
        assert "Voice: measured speech" in card(app.room, "p1", app.now()).plain

        select(app, "p1")
        await pilot.press("M")
        await until(pilot, lambda: "p1" in room.state().muted, what="the mute")
        await until(pilot, lambda: cell() == "⊘", what="muted mark")
        await pilot.press("M")
        await until(pilot, lambda: "p1" not in room.state().muted, what="the unmute")
        await pilot.press("H")
        await until(pilot, lambda: room.state().floor_held, what="the floor held")
        await until(pilot, lambda: "floor held" in screen_text(app), what="the header says so")
        await pilot.press("H")
        await until(pilot, lambda: not room.state().floor_held, what="the floor released")
        await until(pilot, lambda: not app.room.floor_held)
        await until(pilot, lambda: "floor held" not in screen_text(app))


async def test_the_invite_screen_shows_the_staff_voice_link(tmp_path):
    from facilitator.app import Target
    from facilitator.local import invite_fn, staff_link
    r = await Room(str(tmp_path / "record.db")).start()
    token = r.token()
    link = staff_link(r.server, token)
    assert link == f"{r.server.http_url}/staff#t={token}"

    async def setup(app) -> Target:
        return Target(r.url, token, invite=invite_fn(r.server, r.room), staff_link=link)
    app = ConsoleApp(setup=setup, key_guard=0, backoff=(0.05, 0.2))
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app, r)
        await pilot.press("i")
        await until(pilot, lambda: type(app.screen).__name__ == "InviteScreen")
        from textual.widgets import TextArea
        out = app.screen.query_one("#out", TextArea)
        assert link in out.text
        app.screen.query_one("#name").value = "Alex"
        await pilot.press("enter")
        await until(pilot, lambda: "Alex" in out.text)
        assert out.text.index(link) < out.text.index("Alex")    # the staff link stays on top
    await r.stop()
