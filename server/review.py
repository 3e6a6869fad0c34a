"""Reviewing a recorded session: the room at any moment, and its timeline.

Both fold the record's events through its one reader (server/record/reading.py:
the engine's own `evolve`, exactly as the live server did), so what a reviewer
sees at 0:42:00 is what the facilitator saw then; the timeline words each event
as the console's event log does (server/wording.py).
"""
from __future__ import annotations

from protocol import events as e
from protocol.state import RoomState
from protocol.timefmt import hms
from server.attendance import attendance_rows
from server.engine.polls import tally
from server.engine.speaking import talk_seconds
from server.engine.timers import remaining
from server.record import Record, reading
from server.wording import event_line


def fold_until(record: Record, room: str, offset: float | None = None) -> tuple[RoomState, float, list]:
    """The room as it stood `offset` seconds after it opened (or at the end).

    Returns the state, the instant it describes, and the (at, seq, aud, event) list folded."""
    folded = reading.fold(record, room, after_open=offset, keep=True)
    if not folded.frames:
        raise LookupError(f"the record holds no room {room!r}")
    if offset is not None and folded.opened is None:
        raise LookupError("the session never opened, so it has no offsets")
    state = folded.state
    now = folded.at if offset is not None else (state.closed_at or state.at)
    return state, now, [(f.at, f.seq, f.aud, f.ev) for f in folded.frames]


def moment(state: RoomState, now: float) -> dict:
    """The room as a facilitator sees it, as plain data."""
    start = state.opened_at or now
    members = state.members.values()
    parts = [m for m in members if m.role == "participant"]
    out = {
        "room": state.room, "title": state.title, "phase": state.phase,
        "at": hms(round(max(0.0, now - start))),
        "present": sorted(m.id for m in parts if m.status == "present"),
        "dropped": sorted(m.id for m in parts if m.status == "dropped"),
        "waiting": sorted(m.id for m in parts if m.status == "waiting"),
        "staff": sorted(m.id for m in members if m.role != "participant" and m.status == "present"),
        "speaker": state.speaker or "",
        "queue": list(state.queue),
        "queue_mode": state.queue_mode,
        "agenda": state.agenda[state.agenda_index].title if state.agenda_index is not None else "",
        "breakouts": state.breakouts,
        "rooms": [list(r) for r in state.rooms if r],
        "polls": [{"id": p.id, "state": p.state, "anonymous": p.anonymous,
                   "counts": tally(p)[0], "total": tally(p)[1]} for p in state.polls.values()],
        "timers": [{"id": t.id, "label": t.label, "state": t.state,
                    "remaining": hms(round(remaining(t, now)))} for t in state.timers.values()],
        "talk_time": {m.id: hms(round(talk_seconds(state, m.id, now))) for m in parts if m.admitted},
        "attendance": [{"id": r.participant_id, "status": r.status,
                        "minutes_present": round(r.minutes_present, 1), "drops": r.drops,
                        "late_minutes": round(r.late_minutes, 1),
                        "waiting_minutes": round(r.waiting_minutes, 1)} for r in attendance_rows(state, now)],
        "alerts": [{"kind": a.kind, "person": a.person, "at": hms(round(max(0.0, a.at - start)))}
                   for a in state.alerts],
        "open_help": [h.help_id for h in state.help.values() if h.acknowledged_by is None],
        "names": {m.id: m.name for m in members},
    }
    return out


# The events a reviewer's timeline lists: the session's course, not every hand or answer (the state at any
# moment shows those). Each is worded as the console's event log words it (server/wording.py).
TIMELINE = (
    e.SessionOpened, e.SessionClosed, e.StaffEntered, e.ParticipantWaiting, e.Admitted, e.Denied, e.Removed,
    e.Excused, e.Left, e.Dropped, e.Returned, e.DropOverdue, e.TurnStarted, e.GoAroundStarted, e.GoAroundEnded,
    e.BreakoutsOpened, e.BreakoutsClosed, e.HelpRequested, e.HelpAcknowledged, e.PollOpened, e.PollClosed,
    e.PollShared, e.QuestionnaireAlert, e.TimerStarted, e.TimerExpired, e.AgendaAdvanced, e.Flagged, e.QueueModeSet,
    e.MicMuted, e.MicUnmuted, e.FloorHeld, e.SurveyOpened, e.SurveyClosed,
)


def timeline(state: RoomState, history) -> list[tuple[str, str]]:
    """(offset from the open, line) for each notable event of `history`, with names from `state`
    (the room folded to the end): no chat, notes, locations, nor anything anyone typed."""
    start = state.opened_at
    if start is None and history:
        start = history[0][0]
    return [(hms(round(max(0.0, at - start))), event_line(state, ev, words=False))
            for at, _seq, _aud, ev in history if isinstance(ev, TIMELINE)]


def render(desc: dict) -> str:
    """For a reviewing clinician: people by name, with their id where it helps."""
    names = desc.get("names", {})

    def who(ids) -> str:
        return ", ".join(names.get(i, i) for i in ids) or "-"

    lines = [f"{desc['title'] or desc['room']}  [{desc['phase']}]  at {desc['at']}"]
    lines.append(f"present ({len(desc['present'])}): {who(desc['present'])}")
    if desc["dropped"]:
        lines.append(f"dropped: {who(desc['dropped'])}")
    lines.append(f"waiting: {who(desc['waiting'])}")
    lines.append(f"speaking: {who([desc['speaker']] if desc['speaker'] else [])}   "
                 f"queue ({desc['queue_mode']}): {who(desc['queue'])}")
    if desc["agenda"]:
        lines.append(f"agenda: {desc['agenda']}")
    if desc["rooms"]:
        lines.append(f"breakouts ({desc['breakouts']}): " + " | ".join(
            f"{i}: {who(r)}" for i, r in enumerate(desc["rooms"], 1)))
    for p in desc["polls"]:
        keys = list(p["counts"])
        if all(k.lstrip("-").isdigit() for k in keys):
            keys.sort(key=int)          # a scale reads from its low end up
        counts = ", ".join(f"{k}={p['counts'][k]}" for k in keys) or "no votes"
        lines.append(f"poll {p['id']} [{p['state']}]: {counts} (total {p['total']})")
    for t in desc["timers"]:
        lines.append(f"timer {t['id']} [{t['state']}]: {t['remaining']} left")
    lines.append("attendance:")
    for a in desc["attendance"]:
        lines.append(f"  {names.get(a['id'], a['id'])[:16]:<16} {a['id']:<10} {a['status']:<9} {a['minutes_present']:>6.1f} min"
                     f"  late {a['late_minutes']:.1f}  waited {a['waiting_minutes']:.1f}  drops {a['drops']}")
    for a in desc["alerts"]:
        lines.append(f"alert {a['at']}: {a['kind']} {names.get(a['person'], a['person'])}")
    return "\n".join(lines)
