"""Issue 15 item 7: the demo keeps a record of its own, the console says where each
record lives, and an export goes only where the user says."""
from __future__ import annotations

import os

from facilitator.app import ConsoleApp
from facilitator.cli import _local_setup, parser
from facilitator.harness import until


async def test_the_demo_writes_its_own_record_and_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    args = parser().parse_args(["--seed", "3"])
    app = ConsoleApp(setup=_local_setup(args, demo=True), key_guard=0)
    data = tmp_path / "data" / "group-console"
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.room is not None and app.room.phase == "open", what="the demo room")
        notes = [n.message for n in app._notifications]
        assert any(f"{data / 'demo.db'}" in n for n in notes), notes
        # an export defaults to the data directory, never to where the console started
        assert app.export_dir.startswith(str(data))
    assert (data / "demo.db").exists()
    assert not (data / "records.db").exists()
    assert sorted(os.listdir(tmp_path)) == ["data"]


async def test_a_local_room_names_its_record(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = str(tmp_path / "tue.db")
    args = parser().parse_args(["--room", "tue", "--db", db])
    app = ConsoleApp(setup=_local_setup(args, demo=False), key_guard=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.room is not None and app.room.phase == "open", what="the room")
        assert any(f"Record: {db}" in n.message for n in app._notifications)


async def test_quitting_says_how_to_come_back_in_each_kind_of_local_session(tmp_path, monkeypatch):
    """The quit question names the command that brings this session back: none for the demo
    (it ends with its simulated group), `--room` for a room (a program's evening: tests/test_console_program.py)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    cases = [(["--seed", "3"], True, "This demo runs inside this console"),
             (["--room", "tue", "--db", str(tmp_path / "tue.db")], False, "until you start `facilitator --room tue`")]
    for argv, demo, said in cases:
        app = ConsoleApp(setup=_local_setup(parser().parse_args(argv), demo=demo), key_guard=0)
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: app.room is not None and app.room.phase == "open", what="the room")
            while type(app.screen).__name__ != "MainScreen" and len(app.screen_stack) > 1:
                await pilot.press("escape")          # the room's invite screen opens by itself
                await pilot.pause(0.1)
            await pilot.press("ctrl+q")
            await until(pilot, lambda: type(app.screen).__name__ == "QuitScreen", what="the question")
            said_there = " ".join(str(x.render()) for x in app.screen.query("Label"))
            assert said in said_there, said_there
            await pilot.press("escape")
