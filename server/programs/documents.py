"""Documents a clinic files: the group note draft for a session, and one member's export.

Both are Markdown, local times with their offset in the program's zone. The
member export names no other member: not in its rows, not in the rules that
tie the member to others, and not in the free text of notes, flags or
excuse reasons, where other members' names and ids are masked.
"""
from __future__ import annotations

import re

from server import engine
from server.programs.model import Program
from server.programs.reports import Held, held, hours, local, program_sessions
from server.programs.session_facts import facts, read_held, peak_present, staff_of
from server.programs.store import zone
from server.record import Record
from server.review import fold_until

ROLE_NAMES = {"facilitator": "Facilitator", "cofacilitator": "Co-facilitator", "observer": "Observer"}
MEASURES = {"phq2": "PHQ-2", "gad2": "GAD-2"}


def _cell(text) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def _mins(x: float) -> str:
    return f"{x:.0f}"


def _hm(t: float | None, tz) -> str:
    return local(t, tz)[11:16] if t is not None else ""


def group_note(record: Record, p: Program, room: str) -> str:
    h, state, history, tz, f = read_held(record, p, room)
    rows = list(h.rows.values())
    came = [r for r in rows if r.status not in ("absent", "excused")]
    lines = [f"# Group note (draft): {_cell(state.title or p.title)}", "",
             f"- Program: {_cell(p.title)} (`{p.id}`)",
             f"- Session: `{room}`, {h.date}",
             f"- Start: {local(state.opened_at, tz)}",
             f"- Stop: {local(state.closed_at, tz) or 'not closed'}",
             f"- Time zone: {p.timezone}",
             f"- Participants present: {len(came)} (at most {peak_present(history, engine.new_room, engine.evolve)}"
             f" at once), cap {state.capacity}",
             f"- Expected: {sum(1 for r in rows if r.expected)}; absent: "
             f"{sum(1 for r in rows if r.expected and r.status == 'absent')}; excused: "
             f"{sum(1 for r in rows if r.expected and r.status == 'excused')}", ""]
    lines += ["## Staff", ""]
    for m in staff_of(state):
        lines.append(f"- {ROLE_NAMES[m.role]}: {_cell(m.name)}"
                     + (f" ({_hm(m.first_joined, tz)} to {_hm(m.last_left or state.closed_at, tz)})"
                        if m.first_joined else " (did not join)"))
    lines += ["", "## Agenda as held", ""]
    if f.segments:
        for s in f.segments:
            length = f", {(s.end - s.start) / 60:.0f} min" if s.end is not None else ""
            lines.append(f"- {_hm(s.start, tz)} {_cell(s.title)}{length}")
    else:
        lines.append("- (no agenda was run)")
    # waiting minutes are a column of their own: time in the lobby is not lateness
    lines += ["", "## Members", "",
              "| member | status | minutes present | late | waiting | left early | drops | PHQ-2 | GAD-2 | alerts | flags |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mine = f.checkins.get(r.participant_id, [])
        score = {k: next((str(c.total) for c in reversed(mine) if c.kind == k), "") for k in MEASURES}
        alerts = "; ".join(f"{MEASURES.get(k, k)} {t}" for _a, k, t in f.alerts.get(r.participant_id, []))
        flags = "; ".join(f"{lvl}: {reason}" for _a, _b, lvl, reason in f.flags.get(r.participant_id, []))
        status = r.status + (f" ({r.reason})" if r.reason else "")
        wait = f"{_mins(r.waiting_minutes)} | "
        lines.append(f"| {_cell(r.name)} | {_cell(status)} | {_mins(r.minutes_present)} | {_mins(r.late_minutes)} | "
                     f"{wait}{_mins(r.left_early_minutes)} | {r.drops} | {score['phq2']} | {score['gad2']} | "
                     f"{_cell(alerts)} | {_cell(flags)} |")
    from server.programs.surveys import note_lines, of_state
    lines += [""] + note_lines(of_state(state, room, h.date, len(came)))
    lines += ["## Narrative (for the clinician)", ""]
    for head in ("Themes and interventions", "Group process and member participation",
                 "Risk and safety", "Plan for the next session"):
        lines += [f"### {head}", "", "_To be written by the clinician._", ""]
    lines += ["Clinician: ____________________   Signed: ____________________   Date: __________", ""]
    return "\n".join(lines)


def _masker(others: dict[str, str]):
    """Replaces other members' names and ids in free text, whole words, any case."""
    words = sorted({w for pair in others.items() for w in pair if w}, key=len, reverse=True)
    if not words:
        return lambda text: text
    rx = re.compile(r"(?<![\w])(" + "|".join(re.escape(w) for w in words) + r")(?![\w])", re.IGNORECASE)
    return lambda text: rx.sub("[another member]", text)


def member_export(record: Record, p: Program, member: str) -> str:
    m = p.members.get(member)
    if m is None:
        raise LookupError(f"program {p.id!r} has no member {member!r}")
    tz = zone(p)
    own = program_sessions(record, p)
    mine: list[tuple[Held, str]] = [(h, "") for h in own
                                    if member in h.rows and (h.rows[member].expected
                                                             or h.rows[member].status not in ("absent", "excused"))]
    for mk in p.makeups:
        if mk.member == member and all(h.room != mk.made_up_in for h, _ in mine):
            h = held(record, mk.made_up_in, p)
            if h is not None and member in h.rows:
                mine.append((h, mk.missed))
    mine.sort(key=lambda x: (x[0].date, x[0].session.opened_at or 0.0))
    others = {mid: o.name for mid, o in p.members.items() if mid != member}
    for h, _ in mine:          # guests and members of other programs met in those sessions
        for r in h.rows.values():
            if r.participant_id != member:
                others.setdefault(r.participant_id, r.name)
    mask = _masker(others)
    lines = [f"# Member record: {_cell(m.name)} (`{m.id}`)", "",
             f"- Program: {_cell(p.title)} (`{p.id}`), times in {p.timezone}",
             f"- Enrolled: {m.enrolled}", f"- Discharged: {m.discharged or 'no'}",
             f"- Weekly hours target: {p.weekly_hours_target:g}",
             f"- Breakout rules: kept together with {len(m.together)} other member(s), "
             f"kept apart from {len(m.apart)} other member(s) (not named here)", "",
             "## Sessions", "",
             "| date | session | status | arrived | left | minutes present | late | left early | drops | reason | made up in |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for h, makeup_for in mine:
        r = h.rows[member]
        status = r.status + (f" (make-up for `{makeup_for}`)" if makeup_for else "")
        lines.append(f"| {h.date} | `{h.room}` | {status} | {local(r.first_joined, tz)} | {local(r.last_left, tz)} | "
                     f"{_mins(r.minutes_present)} | {_mins(r.late_minutes)} | {_mins(r.left_early_minutes)} | "
                     f"{r.drops} | {_cell(mask(r.reason))} | {p.made_up_in(member, h.room)} |")
    lines += ["", "## Weekly hours", "", "| week | sessions expected | sessions attended | hours | target | below target |",
              "|---|---|---|---|---|---|"]
    for w in hours(record, p, member=member):
        below = "yes" if w.minutes / 60 < p.weekly_hours_target - 1e-9 else "no"
        lines.append(f"| {w.week} | {w.expected} | {w.attended} | {w.minutes / 60:.2f} | "
                     f"{p.weekly_hours_target:g} | {below} |")
    checkins, notes, survey, items = [], [], [], []
    trend = score_trends(record, p, member, [h for h, _ in mine])
    for h, _ in mine:
        state, _now, history = fold_until(record, h.room)
        f = facts(history, state)
        names = {x.id: x.name for x in state.members.values() if x.role != "participant"}
        for c in f.checkins.get(member, []):
            measure = MEASURES.get(c.kind, "poll")
            value = (f"items {c.answers[0]}, {c.answers[1]}; total {c.total}" if c.total is not None
                     else ", ".join(c.keys))
            checkins.append(f"| {local(c.at, tz)} | {measure} | {_cell(mask(c.question))} | {_cell(value)} |")
        for at, kind, total in f.alerts.get(member, []):
            checkins.append(f"| {local(at, tz)} | alert | {MEASURES.get(kind, kind)} at or above the threshold | {total} |")
        sv = state.survey
        if sv is not None and member in sv.ratings:
            items = items or list(sv.items)
            survey.append(f"| {h.date} | `{h.room}` | " + " | ".join(str(x) for x in sv.ratings[member])
                          + f" | {_cell(mask(sv.comments.get(member, '')))} |")
        for at, by, text in f.notes.get(member, []):
            notes.append(f"- {local(at, tz)}, note by {_cell(names.get(by, 'staff'))}: {_cell(mask(text))}")
        for at, by, level, reason in f.flags.get(member, []):
            notes.append(f"- {local(at, tz)}, {level} flag by {_cell(names.get(by, 'staff'))}: {_cell(mask(reason))}")
    lines += ["", "## Check-ins", "", "| when | measure | question | answer |", "|---|---|---|---|"]
    lines += checkins or ["| | (none) | | |"]
    lines += ["", "## Trend", ""]
    for measure, points in trend.items():
        lo, hi = (0, 6) if measure in MEASURES.values() else (min(v for _d, v in points), max(v for _d, v in points))
        lines.append(f"- {measure}: {spark([v for _d, v in points], lo, hi)}  "
                     + ", ".join(f"{d[5:]} {v:g}" for d, v in points))
    if not trend:
        lines.append("- (no scores yet)")
    from server.engine.survey import HIGHEST, LOWEST, SHORT
    lines += ["", "## Satisfaction survey (your own answers)", ""]
    if survey:
        lines += [f"- {k}: {text} ({LOWEST} to {HIGHEST})" for k, text in zip(SHORT, items)] + [""]
        lines += ["| date | session | " + " | ".join(SHORT) + " | comment |",
                  "|---|---|" + "---|" * len(SHORT) + "---|"] + survey
    else:
        lines.append("- (none)")
    lines += ["", "## Notes and flags", ""] + (notes or ["- (none)"]) + [""]
    lines += ["_Weeks are ISO weeks, Monday to Sunday._", ""]
    return "\n".join(lines)


BLOCKS = "▁▂▃▄▅▆▇█"


def spark(values: list[float], lo: float, hi: float) -> str:
    """A one-line chart a facilitator reads at a glance (the console draws the same with Sparkline)."""
    span = (hi - lo) or 1
    return "".join(BLOCKS[min(len(BLOCKS) - 1, max(0, round((v - lo) / span * (len(BLOCKS) - 1))))]
                   for v in values)


def score_trends(record: Record, p: Program, member: str, sessions_: list[Held] | None = None
                 ) -> dict[str, list[tuple[str, float]]]:
    """A member's check-in scores across the program, by measure, in date order: PHQ-2 and GAD-2
    totals, and 0-10 style scale polls as "mood" (the value chosen)."""
    out: dict[str, list[tuple[str, float]]] = {}
    if sessions_ is None:
        sessions_ = [h for h in program_sessions(record, p) if member in h.rows]
    for h in sorted(sessions_, key=lambda h: (h.date, h.session.opened_at or 0.0)):
        state, _now, history = fold_until(record, h.room)
        for c in facts(history, state).checkins.get(member, []):
            if c.total is not None:
                out.setdefault(MEASURES[c.kind], []).append((h.date, float(c.total)))
            elif c.kind == "scale" and c.keys and c.keys[0].lstrip("-").isdigit():
                out.setdefault("mood", []).append((h.date, float(c.keys[0])))
    return out
