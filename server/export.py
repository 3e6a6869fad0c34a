"""Exports from the record: the event log, attendance, absences across sessions."""
from __future__ import annotations

import csv
import io

import msgspec

from server.attendance import CSV_HEADER, attendance_rows, csv_lines, iso
from server.record import Record, reading
from server.review import fold_until

_json = msgspec.json.Encoder()


def jsonl(record: Record, room: str) -> str:
    out = []
    found = False
    from server.programs.store import session_info
    info = session_info(record, room)
    tz = _zone(record, info.program) if info is not None else None
    for rid, rroom, seq, at, actor, kind, typ, aud, cmd, body in record.rows(room):
        found = True
        row = {"row": rid, "seq": seq, "at": iso(at, tz), "actor": actor, "kind": kind, "type": typ,
               "aud": aud}
        if kind == "event":
            row["event"] = msgspec.to_builtins(reading.decode(body))
        else:
            row["refused"] = msgspec.msgpack.decode(body)
        out.append(_json.encode(row).decode())
    if not found:
        raise LookupError(f"the record holds no room {room!r}")
    return "\n".join(out) + "\n"


def _zone(record: Record, program: str):
    """A program's session gives local times in its program's zone; a lone room, UTC."""
    if not program:
        return None
    from server.programs.store import load_program, zone
    p = load_program(record, program)
    return zone(p) if p is not None else None


def attendance_csv(record: Record, room: str) -> str:
    state, now, _ = fold_until(record, room)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    w.writerows(csv_lines(attendance_rows(state, now), _zone(record, state.program)))
    return buf.getvalue()


ABSENCE_HEADER = ["participant_id", "name", "room", "title", "date", "status", "reason"]


def absences_csv(record: Record) -> str:
    """Every missed session (excused or not) for every participant, across all rooms."""
    rows = []
    for room in record.rooms():
        try:
            state, now, _ = fold_until(record, room)
        except LookupError:
            continue
        if state.opened_at is None:
            continue
        for r in attendance_rows(state, now):
            if r.status in ("absent", "excused"):
                rows.append([r.participant_id, r.name, room, state.title,
                             iso(state.opened_at, _zone(record, state.program)),
                             r.status, r.reason if r.status == "excused" else ""])
    rows.sort(key=lambda x: (x[0], x[4]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ABSENCE_HEADER)
    w.writerows(rows)
    return buf.getvalue()
