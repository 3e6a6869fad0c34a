"""Copies a SQLite record into PostgreSQL, keeping it verifiable.

The source's chain is checked first: a damaged record is not copied, so the
copy cannot launder a tampering. Rows go across in their order, each room's
rows chained afresh by the PostgreSQL record (its chain is per room); the
copy is then verified and compared row by row with the source.
"""
from __future__ import annotations

from dataclasses import dataclass

from server.record.sqlite import Record, Row

BATCH = 2000


class MigrateError(RuntimeError):
    pass


@dataclass
class Migrated:
    rows: int
    rooms: int
    snapshots: int
    source_head: str
    target_head: str


def migrate(source: str, target: str) -> Migrated:
    from server.record.postgres import PostgresRecord
    src = Record(source, readonly=True)
    try:
        res = src.verify()
        if not res.ok:
            raise MigrateError(f"{source} does not verify ({res.problem}); nothing was copied")
        dst = PostgresRecord(target)
        try:
            if dst.db.execute("SELECT 1 FROM log LIMIT 1").fetchone() is not None:
                raise MigrateError("the target already holds a record; migrate only into an empty database")
            batch, n = [], 0
            for _rid, room, seq, at, actor, kind, typ, aud, cmd, body in src.rows():
                batch.append(Row(room, seq, at, actor, kind, typ, aud, cmd, bytes(body)))
                if len(batch) >= BATCH:
                    dst.append(batch)
                    n += len(batch)
                    batch = []
            snaps = [(room, seq, fp, body, mac) for room, (seq, fp, body, mac) in src.snapshots().items()]
            # the snapshots ride with the last rows, as the hub writes them
            if batch or snaps:
                if not batch:
                    raise MigrateError("snapshots without rows: the source is not a record")
                dst.append(batch, snaps)
                n += len(batch)
            check = dst.verify()
            if not check.ok:
                raise MigrateError(f"the copy does not verify: {check.problem}")
            if check.rows != res.rows:
                raise MigrateError(f"the copy holds {check.rows} rows, the source {res.rows}")
            for room in src.rooms():
                if list(src.events(room)) != list(dst.events(room)):
                    raise MigrateError(f"room {room!r} differs between the source and the copy")
            return Migrated(n, len(src.rooms()), len(snaps), res.head, check.head)
        finally:
            dst.close()
    finally:
        src.close()


def run_cli(a, die) -> int:
    """`session-server migrate --from FILE --to postgresql://...`."""
    import os

    from server.record import is_postgres
    from server.record.postgres import RecordUnavailable
    if is_postgres(getattr(a, "from")) or not is_postgres(a.to):
        die("migrate copies a SQLite record (--from FILE) into PostgreSQL (--to postgresql://...)")
    if not os.path.isfile(getattr(a, "from")):
        die(f"no such record: {getattr(a, 'from')}")
    try:
        m = migrate(getattr(a, "from"), a.to)
    except (MigrateError, RecordUnavailable) as exc:
        die(str(exc), 1)
    except Exception as exc:   # a file that is not a record, a database that refuses us
        die(f"migrate failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", 1)
    print(f"ok: {m.rows} rows of {m.rooms} rooms and {m.snapshots} snapshots copied and verified; "
          f"source head {m.source_head}, new head {m.target_head}")
    return 0
