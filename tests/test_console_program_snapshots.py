"""Pictures of the program screen at the two sizes the console is held to."""
from __future__ import annotations

import pytest

pytest.importorskip("pytest_textual_snapshot")

from facilitator.harness import screen_text, until                      # noqa: E402
from tests.test_console_program import db, opened, played, program_app  # noqa: E402,F401

SIZES = {"80x24": (80, 24), "160x45": (160, 45)}


async def _program_screen(pilot) -> None:
    app = pilot.app
    await opened(pilot, app)
    await pilot.press("P")
    await until(pilot, lambda: type(app.screen).__name__ == "ProgramScreen"
                and "America/Chicago" in screen_text(app), timeout=15, what="the program screen")
    table = app.screen.query_one("#members")
    table.move_cursor(row=table.get_row_index("p1"))      # Alex: two PHQ-2 totals and a GAD-2
    app.clear_notifications()                            # the start note names a port and a path
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES)
def test_program_screen(snap_compare, db, size):
    assert snap_compare(program_app(db, "--program", "iop-evening"), terminal_size=SIZES[size],
                        run_before=_program_screen)


async def _settings_with_a_bad_zone(pilot) -> None:
    app = pilot.app
    await _program_screen(pilot)
    await pilot.press("s")
    await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", timeout=15, what="the form")
    app.screen.query_one("#f-timezone").value = "America/Chikago"
    await pilot.press("ctrl+s")
    await until(pilot, lambda: "unknown time zone" in screen_text(app), what="the message")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES)
def test_program_settings_form(snap_compare, db, size):
    assert snap_compare(program_app(db, "--program", "iop-evening"), terminal_size=SIZES[size],
                        run_before=_settings_with_a_bad_zone)
