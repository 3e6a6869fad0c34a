"""Attendance as the clinical and billing record needs it, computed from the fold.

The rules are the contract's ("Attendance rules" in the scenario contract):
time present runs from admission; lateness runs from the open to the
arrival (the first of knocking and being admitted), so a person the
facilitator kept waiting is not late for it; the time in the waiting room is
its own figure; a removed participant's row says `removed`, with when.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from protocol.state import Member, RoomState
from server.engine.admission import attended_seconds, waiting_seconds


@dataclass(slots=True)
class AttendanceRow:
    participant_id: str
    name: str
    status: str                 # attended | removed | absent | excused
    first_joined: float | None
    last_left: float | None
    minutes_present: float
    late_minutes: float
    left_early_minutes: float
    drops: int
    expected: bool
    reason: str = ""
    arrived: float | None = None       # first knock or admission
    waiting_minutes: float = 0.0
    removed_at: float | None = None


def arrival(m: Member) -> float | None:
    """The first of entering the waiting room and being admitted."""
    return m.arrived_at if m.arrived_at is not None else m.first_joined


def late_minutes(s: RoomState, m: Member) -> float:
    """From the open to the arrival; 0 for someone there before the open."""
    t = arrival(m)
    if t is None or s.opened_at is None:
        return 0.0
    return max(0.0, t - s.opened_at) / 60


def _row(s: RoomState, m: Member, now: float) -> AttendanceRow:
    if m.status == "removed":
        status = "removed"
    elif m.admitted:
        status = "attended"
    elif m.excused is not None:
        status = "excused"
    else:
        status = "absent"
    late = late_minutes(s, m)
    early = 0.0
    if s.closed_at is not None and m.admitted and m.last_left is not None and m.last_left < s.closed_at - 1e-6:
        early = (s.closed_at - m.last_left) / 60
    last_left = m.last_left if m.status not in ("present", "dropped") or s.phase == "closed" else None
    return AttendanceRow(m.id, m.name, status, m.first_joined, last_left,
                         attended_seconds(m, now) / 60, late, early, m.drops, m.expected,
                         m.excused or "", arrival(m), waiting_seconds(m, now) / 60, m.removed_at)


def attendance_rows(s: RoomState, now: float | None = None) -> list[AttendanceRow]:
    """One row per participant on the roster or who came in, roster order first."""
    now = s.closed_at if now is None and s.closed_at is not None else (now if now is not None else s.at)
    people = [m for m in s.members.values() if m.role == "participant"
              and (m.expected or m.admitted or m.excused is not None or m.removed_at is not None)]
    return [_row(s, m, now) for m in people]


def iso(t: float | None, tz=None) -> str:
    if t is None:
        return ""
    return datetime.fromtimestamp(t, tz or timezone.utc).isoformat(timespec="seconds")


# The first nine columns are the export's original ones, in their order: readers that
# take columns by position keep working. New columns go at the end.
CSV_HEADER = ["participant_id", "name", "status", "first_joined", "last_left", "minutes_present",
              "late_minutes", "left_early_minutes", "drops", "arrived", "waiting_minutes", "removed_at"]


def csv_lines(rows: list[AttendanceRow], tz=None) -> list[list[str]]:
    return [[r.participant_id, r.name, r.status, iso(r.first_joined, tz), iso(r.last_left, tz),
             f"{r.minutes_present:.1f}", f"{r.late_minutes:.1f}", f"{r.left_early_minutes:.1f}",
             str(r.drops), iso(r.arrived, tz), f"{r.waiting_minutes:.1f}", iso(r.removed_at, tz)]
            for r in rows]
