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
