"""Tamper campaign: single-byte changes and row deletions in copies of a record; verify must catch each.

A record is made by playing scenario files (real events, real audit rows).
Each trial takes a fresh copy and does one of:
  * `column`: one byte of one column of one row changed (the append-only
    triggers are dropped in the copy first, as a tamperer with the file would);
  * `file`: one byte of the database file changed where a row's body or hash
    is stored (no SQL at all: the bytes on disk);
  * `delete`: one row deleted (any row, the newest included).
`verify` must report every one, and name the damaged row (or, for a
deletion, the row after the hole). A sample also goes through the real
`session-server verify` command, which must exit 1.
"""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
import struct
import tempfile

from campaigns.common import Figures, scenario_paths
from campaigns.recordview import cli_verify
from server.record import Record

TEXT_COLS = ("room", "actor", "kind", "type", "aud", "cmd")


def make_record(path: str, scenarios: list[str]) -> int:
    from server.scenarios.runner import run_scenario
    for sc in scenarios:
        run_scenario(sc, path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = db.execute("SELECT count(*) FROM log").fetchone()[0]
    db.close()
    return n


def _open_unlocked(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS log_no_update")
    db.execute("DROP TRIGGER IF EXISTS log_no_delete")
    return db


def _flip_text(rng: random.Random, s: str) -> str:
    i = rng.randrange(len(s))
    choices = [ch for ch in "abcdefghijklmnopqrstuvwxyz0123456789-_:" if ch != s[i]]
    return s[:i] + rng.choice(choices) + s[i + 1:]


def _flip_bytes(rng: random.Random, b: bytes) -> bytes:
    i = rng.randrange(len(b))
    v = rng.choice([x for x in range(256) if x != b[i]])
    return b[:i] + bytes([v]) + b[i + 1:]


def mutate_column(path: str, rng: random.Random) -> tuple[int, str]:
    db = _open_unlocked(path)
    try:
        n = db.execute("SELECT max(id) FROM log").fetchone()[0]
        for _ in range(100):
            rid = rng.randint(1, n)
            col = rng.choice(TEXT_COLS + ("seq", "at", "body", "hash"))
            old = db.execute(f"SELECT {col} FROM log WHERE id=?", (rid,)).fetchone()[0]
            if old is None or (isinstance(old, (str, bytes)) and not old):
                continue
            if col in TEXT_COLS:
                new = _flip_text(rng, old)
            elif col == "seq":
                raw = bytearray(struct.pack(">q", old))
                i = rng.randrange(6, 8)            # low bytes: a plausible, different seq
                raw[i] ^= 1 << rng.randrange(8)
                new = struct.unpack(">q", bytes(raw))[0]
            elif col == "at":
                while True:
                    raw = bytearray(struct.pack(">d", old))
                    raw[rng.randrange(8)] = rng.randrange(256)
                    new = struct.unpack(">d", bytes(raw))[0]
                    if new == new and new not in (float("inf"), float("-inf")) and new != old:
                        break
            else:
                new = _flip_bytes(rng, bytes(old))
            try:
                db.execute(f"UPDATE log SET {col}=? WHERE id=?", (new, rid))
            except sqlite3.IntegrityError:
                continue                           # e.g. a seq that another row has: pick again
            return rid, col
        raise RuntimeError("no column could be changed")
    finally:
        db.close()


def mutate_delete(path: str, rng: random.Random) -> tuple[int, str]:
    db = _open_unlocked(path)
    try:
        n = db.execute("SELECT max(id) FROM log").fetchone()[0]
        rid = n if rng.random() < 0.1 else rng.randint(1, n)
        db.execute("DELETE FROM log WHERE id=?", (rid,))
        return rid, "row"
    finally:
        db.close()


def mutate_file(path: str, rng: random.Random, rows: list[tuple[int, bytes, bytes]]) -> tuple[int, str]:
    with open(path, "rb") as f:
        data = bytearray(f.read())
    for _ in range(200):
        rid, body, h = rng.choice(rows)
        what, needle = ("body", body) if rng.random() < 0.7 else ("hash", h)
        if len(needle) < 8:
            continue
        at = data.find(needle)
        if at < 0 or data.find(needle, at + 1) >= 0:
            continue                               # not stored in one piece, or not unique
        i = at + rng.randrange(len(needle))
        data[i] = rng.choice([x for x in range(256) if x != data[i]])
        with open(path, "wb") as f:
            f.write(data)
        return rid, what
    raise RuntimeError("no row could be found in the file")


def check(path: str) -> tuple[bool, int | None, str]:
    """(caught, first bad row, problem) as `session-server verify` would see it."""
    try:
        rec = Record(path)
    except sqlite3.DatabaseError as exc:
        return True, None, f"unreadable: {exc}"
    try:
        res = rec.verify()
    except sqlite3.DatabaseError as exc:
        return True, None, f"damaged: {exc}"
    finally:
        rec.close()
    return (not res.ok), res.bad_id, res.problem


def run(args) -> int:
    if getattr(args, "backend", "sqlite") == "postgresql":
        from campaigns import tamper_pg
        return tamper_pg.run(args)
    fig = Figures("tamper", args.seed, args.quick)
    rng = random.Random(args.seed)
    trials = args.trials or (100 if args.quick else 1000)
    wd = tempfile.mkdtemp(prefix="campaign-tamper-")
    try:
        scenarios = scenario_paths()
        if args.quick:
            scenarios = scenarios[:2]
        fig.counts["scenarios"] = len(scenarios)
        pristine = os.path.join(wd, "pristine.db")
        fig.counts["rows_in_record"] = make_record(pristine, scenarios)
        flagged, _, problem = check(pristine)
        fig.check(not flagged, f"the untouched record fails verify: {problem}")
        rec = sqlite3.connect(pristine)
        rows = [(rid, bytes(b), bytes(h)) for rid, b, h in rec.execute("SELECT id, body, hash FROM log")]
        rec.close()
        copy = os.path.join(wd, "copy.db")
        cli_every = max(1, trials // (10 if args.quick else 50))
        for t in range(trials):
            shutil.copyfile(pristine, copy)
            for suffix in ("-wal", "-shm"):
                if os.path.exists(copy + suffix):
                    os.unlink(copy + suffix)
            kind = rng.choices(["column", "file", "delete"], weights=[5, 3, 2])[0]
            if kind == "column":
                rid, what = mutate_column(copy, rng)
            elif kind == "file":
                rid, what = mutate_file(copy, rng, rows)
            else:
                rid, what = mutate_delete(copy, rng)
            fig.add("trials")
            fig.add(f"trials_{kind}")
            caught, bad, problem = check(copy)
            fig.add("caught" if caught else "missed")
            if not caught:
                fig.fail(f"trial {t}: {kind} change of row {rid} ({what}) passed verify")
                continue
            named = bad == rid or (kind == "delete" and bad == rid + 1)
            fig.add("named_the_row" if named else "caught_without_the_row")
            if t % cli_every == 0:
                rc, out = cli_verify(copy)
                fig.add("cli_runs")
                fig.check(rc != 0, f"trial {t}: `session-server verify` exited 0 on a {kind} change: {out}")
                if rc == 1:
                    fig.add("cli_exit_1")
        shutil.copyfile(pristine, copy)
        rc, out = cli_verify(copy)
        fig.check(rc == 0, f"`session-server verify` fails on an untouched copy: {out}")
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return fig.emit()


def add_arguments(p) -> None:
    p.add_argument("--trials", type=int, help="changes to make (default 1000; 100 with --quick)")
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite",
                   help="the record to tamper with (postgresql: a throwaway cluster of Debian's PostgreSQL)")
