"""The record: an append-only, hash-chained, durable log of every event and refusal."""
from server.record.sqlite import Record, Row, VerifyResult  # noqa: F401
from server.record.files import RecordFileError  # noqa: F401
from server.record.lock import RecordLocked  # noqa: F401
