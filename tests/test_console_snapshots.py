"""Snapshots of the console at 80x24 and 160x45: the main screen and each modal.

The room is staged on a virtual clock at a fixed instant, so every run draws
the same screen: five people in, one waiting, a speaker, two hands, a mood
poll with answers, a break timer, a flag, a help request and a silent drop.
Update the pictures with `pytest tests/test_console_snapshots.py --snapshot-update`
and look at them (tests/__snapshots__/) before committing.
"""
from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("pytest_textual_snapshot")

from facilitator.app import ConsoleApp, Target          # noqa: E402
from facilitator.harness import Room, until             # noqa: E402
from facilitator.local import as_facilitator            # noqa: E402
from protocol import commands as c                      # noqa: E402
from server.clock import VirtualClock                   # noqa: E402

T0 = 1_767_200_400.0          # a fixed evening: 2025-12-31 17:00 UTC
NOW = T0 + 12 * 60 + 34

SIZES = {"80x24": (80, 24), "160x45": (160, 45)}


@pytest.fixture(autouse=True)
def no_stray_files(tmp_path):
    """After each test, the staged room has written only its record (with its lock and SQLite's files) in the test's
    own directory: no export, invite or log file."""
    yield
    kept = ("record.db", "record.db-wal", "record.db-shm", "record.db.lock")
    stray = sorted(n for n in os.listdir(tmp_path) if n not in kept)
    assert not stray, f"the console wrote {stray} in {tmp_path}"


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def staged(db: str):
    """A setup for the console that stages a mid-session room on a virtual clock."""
    async def setup(app: ConsoleApp) -> Target:
        clock = VirtualClock(T0)
        room = await Room(db, clock=clock).start()
        hub = room.server.hub

        async def at(minutes: float) -> None:
            await hub.advance_to(T0 + minutes * 60)

        async def fac(cmd):
            return await as_facilitator(room.server, room.room, cmd)

        people = [("p1", "Alex"), ("p2", "Blake"), ("p3", "Casey"), ("p4", "Drew"), ("p5", "Eli")]
        for i, (pid, name) in enumerate(people):
            await at(0.5 + i * 0.5)
            await room.participant(pid, name)
            await fac(c.Admit(target=pid))
        await at(4)
        await room.participant("p9", "Jules", where=None)               # a guest, waiting
        await room.ok(room.people["p1"], c.RaiseHand())
        await fac(c.NextSpeaker())
        await at(6)
        await room.ok(room.people["p2"], c.RaiseHand())
        await fac(c.NextSpeaker())
        await room.ok(room.people["p3"], c.RaiseHand())
        await room.ok(room.people["p4"], c.RaiseHand())
        await fac(c.PollCreate(id="mood", kind="scale", min=0, max=10,
                               question="How are you feeling right now, 0 to 10?"))
        await fac(c.PollOpen(id="mood"))
        for pid, v in (("p1", 6), ("p2", 7), ("p3", 4), ("p4", 7)):
            await room.ok(room.people[pid], c.Vote(id="mood", value=v))
        await fac(c.TimerStart(id="break", minutes=10, label="Break"))
        await at(8)
        await fac(c.Flag(target="p4", level="urgent", reason="mentioned not feeling safe"))
        await room.ok(room.people["p5"], c.HelpRequest(text="can we talk after?"))
        await room.ok(room.people["p3"], c.Chat(text="That really resonates."))
        await at(9)
        await room.people["p5"].drop()
        await until_server(lambda: room.state().members["p5"].status == "dropped")
        await at(12.5)                  # past the drop grace: Eli "dropped and has not come back"
        await hub.flush()
        return Target(room.url, room.token(), stop=room.stop, invite=_fixed_invite)
    return setup


def _fixed_invite(person: str, name: str) -> tuple[str, str, str]:
    # the same link every run, so the picture of the invite screen stays the same
    return "TOKEN", f"http://127.0.0.1:8765/#t=TOKEN-{person}", f"facilitator join ws://127.0.0.1:8765 --token-file {person}"


async def until_server(cond, timeout: float = 5.0) -> None:
    import asyncio
    for _ in range(int(timeout / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the staged room did not settle")


def app_for(tmp_path) -> ConsoleApp:
    return ConsoleApp(setup=staged(str(tmp_path / "record.db")), clock=lambda: NOW,
                      export_dir=str(tmp_path), key_guard=0)


async def settled(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.conn == "online" and app.room is not None
                and app.room.members.get("p5") is not None and app.room.members["p5"].status == "dropped"
                and app.drawn_seq == app.room.seq, timeout=10, what="the staged room")
    await pilot.pause(0.1)


def keys(*presses: str):
    async def run_before(pilot) -> None:
        await settled(pilot)
        app = pilot.app
        roster = app.query_one("#roster")
        roster.move_cursor(row=[r.key.value for r in roster.ordered_rows].index("p4"))
        for k in presses:
            await pilot.press(k)
            await pilot.pause(0.1)
        await pilot.pause(0.2)
    return run_before


async def _plan_then_open_modal(pilot) -> None:
    await settled(pilot)
    await as_plan(pilot)


async def as_plan(pilot) -> None:
    app = pilot.app
    await app.send(c.BreakoutsPlan(rooms=2, seed=3))
    await until(pilot, lambda: app.room.breakouts == "draft")
    await pilot.press("b")
    await until(pilot, lambda: len(list(app.screen.query("RoomColumn"))) == 2)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare, tmp_path, size):
    assert snap_compare(app_for(tmp_path), terminal_size=SIZES[size], run_before=keys())


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("modal,presses", [
    ("poll", ("p",)), ("timer", ("t",)), ("flag", ("f",)), ("note", ("N",)), ("attendance", ("A",)),
    ("go-around", ("g",)), ("invite", ("i",)),
    ("help", ("question_mark",)), ("person", ("v",)), ("quit", ("q",)), ("agenda", ("J",)),
])
def test_modal(snap_compare, tmp_path, size, modal, presses):
    assert snap_compare(app_for(tmp_path), terminal_size=SIZES[size], run_before=keys(*presses))


@pytest.mark.parametrize("size", SIZES)
def test_breakouts_modal(snap_compare, tmp_path, size):
    assert snap_compare(app_for(tmp_path), terminal_size=SIZES[size], run_before=_plan_then_open_modal)
