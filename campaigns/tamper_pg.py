"""The tamper campaign on PostgreSQL (`python -m campaigns tamper --backend postgresql`).

A record is made by playing scenario files into a database of a throwaway
PostgreSQL cluster. Each trial copies it (`CREATE DATABASE ... TEMPLATE`) and,
with the append-only triggers disabled as a tamperer with the database's
owner role could, does one of:
  * `column`: one byte of one column of one log row changed;
  * `delete`: one log row deleted (a room's newest row included);
  * `room`: a whole room removed: its rows, its chain head and its entry in the
    registry of rooms;
  * `head`: a room's chain head changed or removed.
`verify` must report every one. There is no `file` kind: PostgreSQL's pages are
not the record's format to reason about, and its own checksums guard them.
"""
from __future__ import annotations

import random
import struct

from campaigns.common import Figures, scenario_paths
from campaigns.recordview import cli_verify
from campaigns.tamper import TEXT_COLS, _flip_bytes, _flip_text
from server.record.pgserver import LocalPostgres
from server.record.postgres import PostgresRecord



def _connect(url: str):
    import psycopg
    db = psycopg.connect(url, autocommit=True)
    db.execute("ALTER TABLE log DISABLE TRIGGER USER")
    db.execute("ALTER TABLE registry DISABLE TRIGGER USER")
    return db


def mutate(url: str, rng: random.Random, kind: str) -> str:
    import psycopg
    db = _connect(url)
    try:
        if kind == "room":
            rooms = [r for (r,) in db.execute("SELECT room FROM registry ORDER BY n")]
            room = rng.choice(rooms)
            for t in ("log", "heads", "registry", "snapshots"):
                db.execute(f"DELETE FROM {t} WHERE room = %s", (room,))
            return f"room {room}"
        if kind == "head":
            room, rid, h = rng.choice(db.execute("SELECT room, rid, hash FROM heads").fetchall())
            if rng.random() < 0.5:
                db.execute("DELETE FROM heads WHERE room = %s", (room,))
            else:
                db.execute("UPDATE heads SET hash = %s WHERE room = %s", (_flip_bytes(rng, bytes(h)), room))
            return f"head of {room}"
        n = db.execute("SELECT max(gid) FROM log").fetchone()[0]
        if kind == "delete":
            if rng.random() < 0.2:        # a room's newest row: only the head can tell
                gid = db.execute("SELECT l.gid FROM log l JOIN heads h ON h.room = l.room AND h.rid = l.rid "
                                 "ORDER BY random() LIMIT 1").fetchone()[0]
            else:
                gid = rng.randint(1, n)
            db.execute("DELETE FROM log WHERE gid = %s", (gid,))
            return f"row {gid}"
        for _ in range(100):
            gid = rng.randint(1, n)
            col = rng.choice(TEXT_COLS + ("seq", "at", "body", "hash"))
            row = db.execute(f"SELECT {col} FROM log WHERE gid = %s", (gid,)).fetchone()
            if row is None or row[0] is None or (isinstance(row[0], (str, bytes, memoryview)) and not row[0]):
                continue
            old = row[0]
            if col in TEXT_COLS:
                new = _flip_text(rng, old)
            elif col == "seq":
                new = old ^ (1 << rng.randrange(10))
            elif col == "at":
                raw = bytearray(struct.pack(">d", old))
                raw[rng.randrange(4, 8)] ^= 1 << rng.randrange(8)
                new = struct.unpack(">d", bytes(raw))[0]
                if new != new or new == old:
                    continue
            else:
                new = _flip_bytes(rng, bytes(old))
            try:
                db.execute(f"UPDATE log SET {col} = %s WHERE gid = %s", (new, gid))
            except psycopg.errors.UniqueViolation:
                continue
            return f"row {gid} ({col})"
        raise RuntimeError("no column could be changed")
    finally:
        db.close()


def run(args) -> int:
    import psycopg
    fig = Figures("tamper-postgresql", args.seed, args.quick)
    rng = random.Random(args.seed)
    trials = args.trials or (60 if args.quick else 1000)
    with LocalPostgres() as pg:
        pristine = pg.create_database("pristine")
        from server.scenarios.runner import run_scenario
        scenarios = scenario_paths()
        for sc in scenarios[:2] if args.quick else scenarios:
            run_scenario(sc, pristine)
        rec = PostgresRecord(pristine, readonly=True)
        res = rec.verify()
        rec.close()
        fig.counts["rows_in_record"] = res.rows
        fig.check(res.ok, f"the untouched record fails verify: {res.problem}")
        base = pristine.rsplit("/", 1)[0]
        cli_every = max(1, trials // 10)
        with psycopg.connect(pg.admin_url, autocommit=True) as admin:
            for t in range(trials):
                admin.execute("DROP DATABASE IF EXISTS copy")
                admin.execute("CREATE DATABASE copy TEMPLATE pristine")
                url = f"{base}/copy"
                kind = rng.choices(["column", "delete", "room", "head"], weights=[6, 2, 1, 1])[0]
                what = mutate(url, rng, kind)
                fig.add("trials")
                fig.add(f"trials_{kind}")
                rec = PostgresRecord(url, readonly=True)
                res = rec.verify()
                rec.close()
                fig.add("missed" if res.ok else "caught")
                if res.ok:
                    fig.fail(f"trial {t}: {kind} change of {what} passed verify")
                if t % cli_every == 0:
                    rc, out = cli_verify(url)
                    fig.add("cli_runs")
                    fig.check(rc != 0, f"trial {t}: `session-server verify` exited 0 on a {kind} change: {out}")
            admin.execute("DROP DATABASE IF EXISTS copy")
        rc, out = cli_verify(pristine)
        fig.check(rc == 0, f"`session-server verify` fails on the untouched record: {out}")
    return fig.emit()
