"""Issue 15 item 1 on the console: a program created and edited from a form, each bad field
told in the program file's own words, every change a program event in the record."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zoneinfo

import msgspec
import pytest

from facilitator.app import ConsoleApp
from facilitator.cli import _local_setup, parser
from facilitator.harness import screen_text, until
from facilitator.screens.program_form import read
from server.programs import changes
from server.programs.model import MemberEnrolled, ProgramDefined
from server.programs.spec import ProgramError
from tests.test_console_program import db, opened, played, program_app  # noqa: F401

EVERY_DAY = "mon tue wed thu fri sat sun"


def form_text(**over) -> dict[str, str]:
    v = {"id": "iop-north", "title": "North IOP", "timezone": "America/Denver", "weekdays": "tue thu",
         "start": "18:00", "minutes": "90", "capacity": "10", "hours": "9", "agreement": "Stays here.",
         "agenda": "Check-in 15, Topic 45", "staff": "dana Dana facilitator, lee Lee Ann cofacilitator"}
    v.update(over)
    return v


def test_each_bad_field_gets_its_own_message_in_the_files_words():
    tables, errors = read(form_text(timezone="Mars/Olympus", weekdays="tue thurs", start="25:00",
                                    minutes="ninety", capacity="40", hours="100", agenda="Check-in"))
    assert tables is None
    assert errors == {
        "timezone": "timezone: unknown time zone 'Mars/Olympus' (use an IANA name such as America/Chicago)",
        "weekdays": "weekday must be one of mon, tue, wed, thu, fri, sat, sun (got 'thurs')",
        "start": "start must be a time of day as HH:MM (got '25:00')",
        "minutes": "minutes must be an integer from 1 to 600",
        "capacity": "capacity must be an integer from 1 to 15",
        "hours": "weekly_hours_target must be a number of hours from 0 to 80",
        "agenda": "agenda: each item is a title and its minutes, as 'Check-in 15' (got 'Check-in')",
    }
    tables, errors = read(form_text())
    assert errors == {} and tables["staff"][1] == {"id": "lee", "name": "Lee Ann", "role": "cofacilitator"}
    assert tables["program"]["schedule"] == [{"weekday": "tue", "start": "18:00", "minutes": 90},
                                             {"weekday": "thu", "start": "18:00", "minutes": 90}]


def test_a_consoles_change_is_checked_as_a_file_is():
    d = ProgramDefined(id="x", title="X", timezone="UTC", staff=[])
    with pytest.raises(ProgramError, match="the record has no program"):
        changes.checked(None, "x", [d])
    enrol = MemberEnrolled(member="p1", name="A", enrolled="2026-11-02", together=["p1"])
    with pytest.raises(ProgramError, match="names themself"):
        changes.checked(None, "x", [d, enrol], create=True)
    with pytest.raises(ProgramError, match="unknown time zone"):
        changes.checked(None, "x", [ProgramDefined(id="x", title="X", timezone="Nowhere/Here")], create=True)


async def _fill(pilot, app, values: dict[str, str]) -> None:
    for key, value in values.items():
        app.screen.query_one(f"#f-{key}").value = value
    await pilot.press("ctrl+s")
    await pilot.pause(0.2)


async def test_a_new_program_from_the_start_of_an_empty_record(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = str(tmp_path / "records.db")
    app = ConsoleApp(setup=_local_setup(parser().parse_args(["--db", path]), demo=False), key_guard=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "PickSession"
                    and "New program…" in screen_text(app), timeout=15, what="the pick")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", what="the form")
        form = app.screen
        assert form.query_one("#f-staff").value == "fac-1 Dana facilitator"     # the console's own person
        await _fill(pilot, app, form_text(timezone="Mars/Olympus", weekdays=EVERY_DAY, staff="dana Dana"))
        shown = [lbl for lbl in form.query(".error.-shown")]
        assert [lbl.id for lbl in shown] == ["err-timezone"]
        assert "unknown time zone 'Mars/Olympus'" in screen_text(app)
        await _fill(pilot, app, {"timezone": "America/Denver"})
        # recorded: the pick again, with the new program's session tonight (it meets every day)
        await until(pilot, lambda: type(app.screen).__name__ == "PickSession"
                    and "North IOP" in screen_text(app), what="the pick with the new program")
        await pilot.press("enter")
        await opened(pilot, app)
        today = dt.datetime.now(zoneinfo.ZoneInfo("America/Denver")).date().isoformat()
        assert app.room.room == f"iop-north-{today}" and app.room.title == "North IOP"
        assert app.mirror.you_id == "dana"
    shown = subprocess.run([sys.executable, "-m", "server", "program", "show", "--db", path, "--program",
                            "iop-north"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "North IOP  (iop-north, America/Denver, cap 10, 9 h a week; 1 recorded change(s))" in shown.stdout
    assert "agenda: Check-in (15 min), Topic (45 min)" in shown.stdout


async def test_editing_a_programs_capacity_from_the_program_screen(db):
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(160, 45)) as pilot:
        await opened(pilot, app)
        await pilot.press("P")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramScreen"
                    and "Capacity 10" in screen_text(app), what="the program screen")
        screen = app.screen
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", what="the form")
        assert app.screen.query_one("#f-capacity").value == "10"
        assert not app.screen.query("#f-id")          # a program's id names its sessions: it stays
        await _fill(pilot, app, {"capacity": "40"})
        assert "capacity must be an integer from 1 to 15" in screen_text(app)
        await _fill(pilot, app, {"capacity": "12"})
        await until(pilot, lambda: app.screen is screen and "Capacity 12" in screen_text(app), what="saved")
        # a member's id on the staff: refused by the record's own rule, said on the form
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", what="the form again")
        await _fill(pilot, app, {"staff": "dana Dana facilitator, p1 Alex observer"})
        await until(pilot, lambda: "the id 'p1' appears twice among staff and members" in screen_text(app),
                    what="the refusal")
        await pilot.press("escape")
    shown = subprocess.run([sys.executable, "-m", "server", "program", "show", "--db", db, "--program",
                            "iop-evening", "--json"], capture_output=True, text=True, timeout=60)
    assert '"capacity": 12' in shown.stdout


async def test_new_program_from_the_palette(db):
    from tests.test_console_actions import palette
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await palette(pilot, app, "New program")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", what="the form")
        assert app.screen.query_one("#f-staff").value == "dana Dana facilitator"
        await _fill(pilot, app, form_text(id="iop-evening"))
        assert "a program 'iop-evening' already exists" in screen_text(app)


async def test_a_full_disk_while_saving_a_program_is_said_on_the_form_and_the_console_goes_on(db):
    """The console's own server cannot write the change: the form says why in a few words and
    keeps what was typed, nothing is recorded, the room goes on, and saving again works."""
    from tests.test_write_faults import allow_growth, limit_growth
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        server = type("S", (), {"hub": app.target.hub})()     # what the disk helpers reach for
        await pilot.press("P")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramScreen", what="the program screen")
        screen = app.screen
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", what="the form")
        await app.target.hub.flush()
        limit_growth(server)                                  # more than the last page holds, below
        long = ("What is said here stays here. " * 70)[:2000].strip()    # the longest an agreement may be
        await _fill(pilot, app, {"agreement": long})
        await until(pilot, lambda: "the disk is full" in screen_text(app), what="the refusal")
        assert type(app.screen).__name__ == "ProgramForm" and app.screen.query_one("#f-agreement").value == long
        assert app.conn == "online"
        allow_growth(server)
        await _fill(pilot, app, {"agreement": long})
        await until(pilot, lambda: app.screen is screen, what="saved")
    shown = subprocess.run([sys.executable, "-m", "server", "program", "show", "--db", db, "--program",
                            "iop-evening", "--json"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "What is said here stays here. What is said" in shown.stdout


async def test_settings_saved_over_a_copy_someone_has_changed_since_are_refused(db):
    """Two facilitators at once: the form holds the program as it was when opened; a change made
    meanwhile (another console, `program import`) is not quietly undone by saving it."""
    from server.programs import on_hub
    app = program_app(db, "--program", "iop-evening")
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        hub = app.target.hub
        await pilot.press("P")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramScreen", what="the program screen")
        screen = app.screen
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", what="the form")
        # meanwhile, elsewhere: the title changes
        p = await on_hub(hub, lambda rec: changes.store.load_program(rec, "iop-evening"))
        other = msgspec.structs.replace(changes.store.settings_of(p), title="Evening IOP (renamed elsewhere)")
        await on_hub(hub, changes.change, "iop-evening", [other], "console:kim", False, p.changes)
        await _fill(pilot, app, {"capacity": "12"})
        await until(pilot, lambda: "changed meanwhile" in screen_text(app), what="the refusal")
        assert type(app.screen).__name__ == "ProgramForm"
        await pilot.press("escape")
        # back on the program screen, the other change is shown, and the next form starts from it
        await until(pilot, lambda: app.screen is screen and "renamed elsewhere" in screen_text(app),
                    what="the other change shown")
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", what="the form again")
        assert app.screen.query_one("#f-title").value == "Evening IOP (renamed elsewhere)"
        await _fill(pilot, app, {"capacity": "12"})
        await until(pilot, lambda: app.screen is screen and "Capacity 12" in screen_text(app), what="saved")
    shown = subprocess.run([sys.executable, "-m", "server", "program", "show", "--db", db, "--program",
                            "iop-evening", "--json"], capture_output=True, text=True, timeout=60)
    assert '"title": "Evening IOP (renamed elsewhere)"' in shown.stdout and '"capacity": 12' in shown.stdout
