"""The record: an append-only, hash-chained, durable log of every event and refusal.

Two implementations of one interface: SQLite (a file, the embedded default)
and PostgreSQL (a URL, for several servers). `open_record` picks by the spec.
"""
from server.record.sqlite import Record, Row, VerifyResult  # noqa: F401
from server.record.files import RecordFileError  # noqa: F401
from server.record.lock import RecordLocked  # noqa: F401


def is_postgres(spec: str) -> bool:
    return spec.startswith(("postgresql://", "postgres://"))


def open_record(spec: str, readonly: bool = False):
    """The record at `spec`: a PostgreSQL URL, or a SQLite file's path."""
    if is_postgres(spec):
        from server.record.postgres import PostgresRecord
        return PostgresRecord(spec, readonly=readonly)
    return Record(spec, readonly=readonly)
