"""Issue 15 item 2 against a running server: a facilitator's console connected by URL is
offered tonight's sessions of their programs, joins one, and runs the program screen and
form over the wire, the same screens as on a local record."""
from __future__ import annotations

from facilitator.app import ConsoleApp
from facilitator.harness import screen_text, until
from server.app import EmbeddedServer
from server.programs import store
from server.record import open_record
from tests.test_console_program import db, played, tonight_room  # noqa: F401

SECRET = b"r" * 32


async def test_a_remote_console_joins_tonights_session_and_edits_the_program(db):
    server = await EmbeddedServer(db, SECRET).start()
    try:
        app = ConsoleApp(url=server.url, token=server.token("lobby", "facilitator", "dana", "Dana"), key_guard=0)
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: type(app.screen).__name__ == "PickSession"
                        and tonight_room() in screen_text(app), timeout=15, what="tonight's sessions")
            assert "Stay in lobby" in screen_text(app)
            await pilot.press("enter")
            await until(pilot, lambda: app.room is not None and app.room.room == tonight_room(),
                        timeout=15, what="tonight's room")
            assert app.room.title == "Evening IOP: relapse prevention" and app.mirror.you_id == "dana"
            await pilot.press("P")
            await until(pilot, lambda: type(app.screen).__name__ == "ProgramScreen"
                        and "America/Chicago" in screen_text(app), timeout=15, what="the program over the wire")
            screen = app.screen
            assert "Casey" in screen_text(app)
            await pilot.press("s")
            await until(pilot, lambda: type(app.screen).__name__ == "ProgramForm", what="the form")
            app.screen.query_one("#f-capacity").value = "11"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.screen is screen and "Capacity 11" in screen_text(app), what="saved")
            await pilot.press("j")
            await until(pilot, lambda: type(app.screen).__name__ == "LinksScreen", what="the links")
            assert server.http_url + "/#t=" in app.screen.query_one("#links").text
    finally:
        await server.stop()
    rec = open_record(db, readonly=True)
    try:
        assert store.load_program(rec, "iop-evening").capacity == 11
    finally:
        rec.close()


async def test_a_cofacilitator_reads_the_program_over_the_wire_but_does_not_change_it(db):
    server = await EmbeddedServer(db, SECRET).start()
    try:
        # a co-facilitator reads the program over the wire but may not change it
        app = ConsoleApp(url=server.url, token=server.token(tonight_room(), "cofacilitator", "lee", "Lee"),
                         key_guard=0)
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: app.room is not None, timeout=15, what="the room")
            await pilot.press("P")
            await until(pilot, lambda: type(app.screen).__name__ == "ProgramScreen"
                        and "America/Chicago" in screen_text(app), timeout=15, what="the program")
            assert "Only the facilitator changes the program" in screen_text(app)
            assert app.screen.query_one("#settings").disabled and app.screen.query_one("#links").disabled
    finally:
        await server.stop()


async def test_facilitator_url_program_joins_that_programs_session_without_asking(db):
    server = await EmbeddedServer(db, SECRET).start()
    try:
        app = ConsoleApp(url=server.url, token=server.token("lobby", "facilitator", "dana", "Dana"), key_guard=0)
        app.start_program = "iop-evening"       # facilitator URL --program iop-evening
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.room is not None and app.room.room == tonight_room(),
                        timeout=15, what="tonight's room")
            assert type(app.screen).__name__ != "PickSession"
    finally:
        await server.stop()
