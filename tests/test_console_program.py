"""Issue 15 items 1, 2 and 6 on the console: a program's session opened from the record,
tonight's sessions to pick from, and the program screen (members, rules, trends, links),
whose changes are program events in the record, written through the embedded server."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import zoneinfo

import pytest

from facilitator.app import ConsoleApp
from facilitator.cli import _local_setup, parser
from facilitator.harness import screen_text, until
from server.programs import load_program
from server.record import open_record
from tests.conftest import SCENARIOS

LIBRARY = os.path.join(SCENARIOS, "program_evening")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """The evening IOP's two weeks, played into a record; then the program meets every day,
    so that it has a session tonight whatever day the test runs (the change is a program event)."""
    d = tmp_path_factory.mktemp("program")
    path = str(d / "record.db")
    r = cli("replay", LIBRARY, "--db", path)
    assert r.returncode == 0, r.stdout + r.stderr
    text = open(os.path.join(LIBRARY, "program.toml")).read()
    days = ", ".join(f'{{ weekday = "{w}", start = "18:00", minutes = 90 }}'
                     for w in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    text = re.sub(r"schedule = \[.*?\]\n(?=\n)", f"schedule = [ {days} ]\n", text, flags=re.S)
    (d / "everyday.toml").write_text(text)
    r = cli("program", "import", str(d / "everyday.toml"), "--db", path)
    assert r.returncode == 0 and "updated" in r.stdout, r.stdout + r.stderr
    return path


@pytest.fixture
def db(played, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = str(tmp_path / "record.db")
    shutil.copy(played, path)
    return path


def tonight_room() -> str:
    return "iop-evening-" + dt.datetime.now(zoneinfo.ZoneInfo("America/Chicago")).date().isoformat()


def program_app(db: str, *extra: str) -> ConsoleApp:
    args = parser().parse_args(["--db", db, *extra])
    return ConsoleApp(setup=_local_setup(args, demo=False), key_guard=0)


async def opened(pilot, app) -> None:
    await until(pilot, lambda: app.conn == "online" and app.room is not None and app.room.phase == "open",
                timeout=15, what="tonight's session")


async def test_program_opens_tonights_session_configured_from_the_program(db):
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(160, 45)) as pilot:
        await opened(pilot, app)
        s = app.room
        assert s.room == tonight_room()
        assert s.title == "Evening IOP: relapse prevention" and s.capacity == 10
        # the members enrolled tonight are expected; Casey was discharged on 5 November
        expected = {pid for pid, m in s.members.items() if m.role == "participant"}
        assert {"p1", "p2", "p3", "p4", "p6", "p7"} <= expected and "p5" not in expected
        assert app.mirror.you_id == "dana"            # the program's facilitator
        assert any("Record: " + db in n.message for n in app._notifications)


async def test_db_with_programs_offers_tonights_sessions(db):
    app = program_app(db)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "PickSession"
                    and "Evening IOP" in screen_text(app), timeout=15, what="the pick")
        text = screen_text(app)
        assert "Evening IOP" in text and tonight_room() in text
        # the day program is listed too: with its session on Wednesdays, greyed the other days
        assert "iop-day-" in text or "no session today" in text
        await pilot.press("enter")
        await opened(pilot, app)
        assert app.room.room == tonight_room()


async def test_program_screen_changes_go_into_the_record_as_program_events(db):
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(160, 45)) as pilot:
        await opened(pilot, app)
        await pilot.press("P")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramScreen")
        screen = app.screen
        await until(pilot, lambda: "America/Chicago" in screen_text(app), what="the program read")
        text = screen_text(app)
        for word in ("America/Chicago", "Dana (facilitator)", "Lee (cofacilitator)", "Casey", "2026-11-05"):
            assert word in text, word
        # Alex's PHQ-2 totals across the program's sessions: 2 on the 3rd, 1 on the 12th
        from textual.widgets import DataTable, Sparkline
        table = screen.query_one("#members", DataTable)
        table.move_cursor(row=table.get_row_index("p1"))
        await pilot.pause(0.1)
        assert list(screen.query_one("#spark-phq2", Sparkline).data) == [2.0, 1.0]
        assert "Alex PHQ-2: 2, 1" in screen_text(app)

        await pilot.press("e")
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        app.screen.query_one("#answer").value = "p9 Jamie Lee 2026-12-01"
        await pilot.press("enter")
        await until(pilot, lambda: "p9" in screen.program.members, what="the enrolment")
        await until(pilot, lambda: table.row_count == 8, what="the table redrawn")

        table.move_cursor(row=table.get_row_index("p9"))
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        app.screen.query_one("#answer").value = "with p1; apart p3"
        await pilot.press("enter")
        await until(pilot, lambda: screen.program.members["p9"].apart == ["p3"], what="the rules")

        table.move_cursor(row=table.get_row_index("p4"))
        await pilot.press("d")
        await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        app.screen.query_one("#answer").value = "2026-12-20"
        await pilot.press("enter")
        await until(pilot, lambda: screen.program.members["p4"].discharged == "2026-12-20", what="discharge")

        await pilot.press("j")
        await until(pilot, lambda: type(app.screen).__name__ == "LinksScreen")
        links = app.screen.query_one("#links").text
        assert "Dana" in links and "Lee" in links and "#t=" in links and "Taylor" in links
    # the record, read back after the console let it go: the changes are the program's events
    rec = open_record(db, readonly=True)
    try:
        p = load_program(rec, "iop-evening")
        assert p.members["p9"].name == "Jamie Lee" and p.members["p9"].enrolled == "2026-12-01"
        assert p.members["p9"].together == ["p1"] and p.members["p9"].apart == ["p3"]
        assert p.members["p4"].discharged == "2026-12-20"
        assert rec.verify().ok
    finally:
        rec.close()


async def test_an_observer_sees_the_program_but_does_not_change_it(db):
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(160, 45)) as pilot:
        await opened(pilot, app)
        app.mirror.role = "observer"
        await pilot.press("P")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramScreen")
        await until(pilot, lambda: app.screen.program is not None)
        assert app.screen.query_one("#enrol").disabled
        await pilot.press("e")
        assert type(app.screen).__name__ == "ProgramScreen"
        assert "Only the facilitator changes the program" in screen_text(app)


async def test_closing_a_programs_session_offers_the_group_note_saved_where_the_user_says(db, tmp_path,
                                                                                       monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    from protocol import commands as c
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(160, 45)) as pilot:
        await opened(pilot, app)
        app.act(c.Close())
        await until(pilot, lambda: type(app.screen).__name__ == "NoteDraftScreen"
                    and app.screen.query("#draft"), timeout=10, what="the note draft")
        draft = app.screen.query_one("#draft").text
        assert draft.startswith("# Group note (draft): Evening IOP") and "Dana" in draft
        path_box = app.screen.query_one("#path")
        assert path_box.value.startswith(str(tmp_path / "data")) and path_box.value.endswith(".md")
        chosen = tmp_path / "notes" / "tonight.md"
        path_box.value = str(chosen)
        path_box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app, "last_note", None), what="the note saved")
    assert chosen.read_text() == draft
    assert oct(os.stat(chosen).st_mode & 0o777) == "0o600"
    assert os.listdir(cwd) == []          # nothing landed where the console was started from


async def test_quitting_a_programs_evening_names_the_command_that_brings_it_back(db):
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(160, 45)) as pilot:
        await opened(pilot, app)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: type(app.screen).__name__ == "QuitScreen", what="the question")
        said_there = " ".join(str(x.render()) for x in app.screen.query("Label"))
        assert "until you start `facilitator --program iop-evening`" in said_there, said_there
        await pilot.press("escape")
