"""A room's snapshot is exactly the fold of its log: for every snapshot of every scenario, and of a long demo.

`verify` compares the two, so a snapshot that differs on a clean record is a
false tamper alarm (it was: agenda minutes of `10` against `10.0`). These
stories catch every snapshot the server writes, as it writes it, and fold
the record's events up to its seq independently.
"""
from __future__ import annotations

import asyncio
import glob
import os
import subprocess
import sys

import msgspec
import pytest

from protocol.events import AnyEvent
from server import engine, snapshots
from server.app import EmbeddedServer
from server.record import Record
from server.scenarios.runner import run_scenario_async
from tests.conftest import ROOT, SCENARIOS

pytestmark = pytest.mark.asyncio

_enc = msgspec.msgpack.Encoder()
_events = msgspec.msgpack.Decoder(AnyEvent)


@pytest.fixture
def written(monkeypatch) -> list[tuple]:
    """Every snapshot row handed to the record, in the order written."""
    rows: list[tuple] = []
    append = Record.append

    def keep(self, batch, snaps=()):
        rows.extend(tuple(s) for s in snaps)
        return append(self, batch, snaps)
    monkeypatch.setattr(Record, "append", keep)
    return rows


def each_snapshot_is_the_fold(db: str, rows: list[tuple]) -> int:
    """Folds each room's log once, comparing at every seq a snapshot was taken; returns how many."""
    rec = Record(db, readonly=True)
    try:
        by_room: dict[str, list[tuple]] = {}
        for room, seq, _fp, body, _mac in rows:
            by_room.setdefault(room, []).append((seq, bytes(body)))
        for room, snaps in by_room.items():
            snaps.sort()
            state = engine.new_room(room)
            log = iter(list(rec.events(room)))
            for seq, body in snaps:
                while state.seq < seq:
                    eseq, at, _aud, _typ, ebody = next(log)
                    engine.evolve(state, _events.decode(ebody), at, eseq)
                # the very bytes: equal types, not just equal after a canonical pass
                assert body == _enc.encode(state), f"room {room!r}, snapshot at event {seq}"
                assert snapshots.decode(body) == snapshots.decode(_enc.encode(state))
        checked, skipped, problems = snapshots.audit(rec)
        assert problems == [] and skipped == 0 and checked == len(by_room)
    finally:
        rec.close()
    return len(rows)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(SCENARIOS, "*.toml"))),
                         ids=lambda p: os.path.basename(p)[:-5])
async def test_every_snapshot_of_a_scenario_is_the_fold_of_its_log(path, tmp_path, monkeypatch, written):
    monkeypatch.setattr(snapshots, "EVERY", 1)      # a snapshot at every commit: exhaustive
    db = str(tmp_path / "record.db")
    result = await run_scenario_async(path, db)
    assert result.passed, result.failures
    assert each_snapshot_is_the_fold(db, written) >= result.events // 4


class _Faster:
    """asyncio, with the demo's own waits shortened: a long evening in seconds."""

    def __init__(self, factor: float):
        self.factor = factor

    def __getattr__(self, name):
        return getattr(asyncio, name)

    async def sleep(self, delay, result=None):
        return await asyncio.sleep(delay / self.factor, result)


async def test_a_long_demo_passes_many_snapshots_and_verify_calls_it_clean(tmp_path, monkeypatch, written):
    from facilitator import demo
    monkeypatch.setattr(snapshots, "EVERY", 25)
    monkeypatch.setattr(demo, "asyncio", _Faster(40))
    db = str(tmp_path / "demo.db")
    srv = await EmbeddedServer(db, os.urandom(32)).start()
    group = demo.DemoGroup(srv, "demo-room", seed=7)
    try:
        await group.start()         # agenda minutes given as ints, in-process, as the console does
        for _ in range(120):
            await asyncio.sleep(0.1)
            if len(written) >= 8:
                break
        await group.stop()
        await srv.hub.flush()
    finally:
        await srv.stop()
    assert len(written) >= 6, f"only {len(written)} snapshots: the demo did not run long enough"
    each_snapshot_is_the_fold(db, written)
    r = subprocess.run([sys.executable, "-m", "server", "verify", "--db", db], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok: 1 room snapshots equal the fold of the log" in r.stdout


async def test_a_changed_snapshot_is_named_by_its_room(tmp_path, monkeypatch):
    import sqlite3
    monkeypatch.setattr(snapshots, "EVERY", 1)
    db = str(tmp_path / "record.db")
    assert (await run_scenario_async(os.path.join(SCENARIOS, "timers_and_agenda.toml"), db)).passed
    con = sqlite3.connect(db)
    room, body = con.execute("SELECT room, body FROM snapshots").fetchone()
    state = snapshots.decode(body)
    state.title = (state.title or "") + " (edited)"
    con.execute("UPDATE snapshots SET body = ?", (_enc.encode(state),))
    con.commit()
    con.close()
    r = subprocess.run([sys.executable, "-m", "server", "verify", "--db", db], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 1 and f"the snapshot of room {room!r} at event" in r.stdout, r.stdout
