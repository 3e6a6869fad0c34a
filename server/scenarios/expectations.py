"""Checks a step's `[steps.expect]` against the room as a facilitator sees it."""
from __future__ import annotations

from protocol.frames import Error
from protocol.state import RoomState
from server.attendance import late_minutes
from server.engine.admission import attended_seconds, waiting_seconds
from server.engine.polls import tally
from server.engine.speaking import talk_seconds
from server.engine.timers import remaining
from server.scenarios.script import Step, fmt_time, parse_time

OK = object()


def _rooms(s: RoomState) -> list[list[str]]:
    return [r for r in s.rooms if r]


def _room_of(s: RoomState, pid: str) -> int | None:
    for i, r in enumerate(s.rooms):
        if pid in r:
            return i
    return None


def check(step: Step, outcome, s: RoomState, now: float, seen: dict[str, list],
          heard: dict[str, set[str]] | None = None):
    """Yields (key, expected, OK or what was seen) for each expectation.

    `heard`: per person, every chat, broadcast and help text they have been
    given so far, as events (live or replayed) or in the chat of their latest
    fresh view."""
    for key, want in step.expect.items():
        if key == "never_heard":
            got = {pid: [t for t in texts if t in (heard or {}).get(pid, set())] for pid, texts in want.items()}
            got = {pid: t for pid, t in got.items() if t}
            yield key, want, OK if not got else {"heard": got}
            continue
        got = _seen(key, want, step, outcome, s, now, seen)
        yield key, want, got


def _seen(key, want, step, outcome, s: RoomState, now, seen):
    if key == "error":
        code = outcome.code if isinstance(outcome, Error) else "no error"
        return OK if code == want else code
    if key == "speaker":
        got = s.speaker or ""
        return OK if got == want else got
    if key == "queue":
        return OK if list(s.queue) == list(want) else list(s.queue)
    if key == "present":
        got = sorted(m.id for m in s.members.values() if m.role == "participant" and m.status == "present")
        return OK if got == sorted(want) else got
    if key == "waiting":
        got = sorted(m.id for m in s.members.values() if m.status == "waiting")
        return OK if got == sorted(want) else got
    if key == "in_breakouts":
        got = s.breakouts == "open"
        return OK if got == want else got
    if key == "room_sizes":
        got = sorted((len(r) for r in _rooms(s)), reverse=True)
        return OK if got == list(want) else got
    if key == "same_room":
        for group in want:
            rooms = {_room_of(s, pid) for pid in group}
            if len(rooms) != 1 or None in rooms:
                return [[pid for pid in group], "in rooms", [(_room_of(s, p) or -1) + 1 for p in group]]
        return OK
    if key == "apart":
        for pair in want:
            rooms = [_room_of(s, pid) for pid in pair]
            if None in rooms or len(set(rooms)) != len(rooms):
                return [list(pair), "in rooms", [(r if r is not None else -1) + 1 for r in rooms]]
        return OK
    if key == "poll":
        p = s.polls.get(want.get("id", ""))
        if p is None:
            return "no such poll"
        counts, total = tally(p)
        got = {"id": p.id, "state": p.state, "counts": {k: v for k, v in counts.items() if v},
               "total": total}
        if "state" in want and want["state"] != p.state:
            return got
        if "counts" in want:
            exp = {str(k): v for k, v in want["counts"].items() if v}
            if exp != got["counts"]:
                return got
        if "total" in want and want["total"] != total:
            return got
        return OK
    if key == "survey":
        sv = s.survey
        if sv is None:
            return "no survey asked"
        from server.engine.survey import summary
        got = {"state": sv.state, "answered": len(sv.ratings),
               "medians": [m for _t, _c, m in summary(sv.ratings, sv.items)]}
        if "state" in want and want["state"] != sv.state:
            return got
        if "answered" in want and want["answered"] != len(sv.ratings):
            return got
        if "medians" in want and [float(x) for x in want["medians"]] != got["medians"]:
            return got
        return OK
    if key == "timer":
        t = s.timers.get(want.get("id", ""))
        if t is None:
            return "no such timer"
        left = remaining(t, now)
        got = {"id": t.id, "state": t.state, "remaining": fmt_time(left)}
        if "state" in want and want["state"] != t.state:
            return got
        if "remaining" in want and abs(parse_time(want["remaining"]) - left) > 1.0 + 1e-6:
            return got
        return OK
    if key == "agenda":
        got = s.agenda[s.agenda_index].title if s.agenda_index is not None and s.agenda else ""
        return OK if got == want else got
    if key == "attendance":
        from server.attendance import attendance_rows
        rows = {r.participant_id: r.status for r in attendance_rows(s, now)}
        got = {pid: rows.get(pid, "no row") for pid in want}
        return OK if got == dict(want) else got
    if key in ("attended", "talk_time", "late", "waited"):
        got = {}
        bad = False
        for pid, text in want.items():
            m = s.members.get(pid)
            if m is None:
                got[pid] = "unknown"
                bad = True
                continue
            if key == "attended":
                v = attended_seconds(m, now)
            elif key == "late":
                v = late_minutes(s, m) * 60
            elif key == "waited":
                v = waiting_seconds(m, now)
            else:
                v = talk_seconds(s, pid, now)
            got[pid] = fmt_time(v)
            if abs(v - parse_time(text)) > 2.0 + 1e-6:
                bad = True
        return got if bad else OK
    if key == "seen_by":
        missing = [pid for pid in want if not seen.get(pid)]
        return OK if not missing else {"not seen by": missing}
    if key == "not_seen_by":
        leaked = {pid: [type(f.ev).__struct_config__.tag for f in seen.get(pid, [])]
                  for pid in want if seen.get(pid)}
        return OK if not leaked else {"seen by": leaked}
    return f"unsupported expectation {key!r}"
