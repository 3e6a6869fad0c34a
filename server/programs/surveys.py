"""The satisfaction survey in the program's reports: per session, per item, counts and medians.

A fold over the record like every other report: each session's `RoomState.survey`
(`review.fold_until`, through `reports.program_sessions`). The group note and the
staff's report carry counts and medians only, never who answered what, nor the
comments (free text, like chat); a member's export carries that member's own answers.
"""
from __future__ import annotations

from dataclasses import dataclass

from protocol.state import RoomState
from server.engine.survey import HIGHEST, LOWEST, SHORT, summary
from server.programs.model import Program
from server.programs.reports import Held, _csv, program_sessions
from server.record import Record


@dataclass
class SessionSurvey:
    """One session's results: who answered is counted, never named."""
    room: str
    date: str
    asked: bool
    answered: int
    present: int                        # participants who came (the survey's reach)
    items: list[str]
    counts: list[dict[int, int]]        # per item: rating -> how many
    medians: list[float | None]
    comments: int                       # how many left a comment (the text stays in the record)


def of_state(state: RoomState, room: str = "", date: str = "", present: int = 0) -> SessionSurvey:
    sv = state.survey
    if sv is None:
        return SessionSurvey(room, date, False, 0, present, [], [], [], 0)
    rows = summary(sv.ratings, sv.items)
    return SessionSurvey(room, date, True, len(sv.ratings), present, list(sv.items),
                         [c for _t, c, _m in rows], [m for _t, _c, m in rows], len(sv.comments))


def _came(h: Held) -> int:
    return sum(1 for r in h.rows.values() if r.status not in ("absent", "excused"))


def program_results(record: Record, p: Program, sessions_: list[Held] | None = None) -> list[SessionSurvey]:
    """Every held session of the program, in date order, asked or not."""
    held = program_sessions(record, p) if sessions_ is None else sessions_
    return [of_state(h.state, h.room, h.date, _came(h)) for h in held]


def fmt_median(m: float | None) -> str:
    return "" if m is None else f"{m:g}"


def survey_csv(record: Record, p: Program) -> str:
    """`--format survey`: one row per session where the survey was asked."""
    header = ["date", "room", "present", "answered", "comments"] + [f"{k}_median" for k in SHORT]
    rows = []
    for s in program_results(record, p):
        if s.asked:
            rows.append([s.date, s.room, s.present, s.answered, s.comments]
                        + [fmt_median(m) for m in s.medians])
    return _csv(header, rows)


def note_lines(s: SessionSurvey) -> list[str]:
    """The group note's section: counts per rating and the median per item; no answers, no comments."""
    lines = ["## Satisfaction survey", ""]
    if not s.asked:
        return lines + ["- (not asked in this session)", ""]
    lines += [f"- Answered: {s.answered} of {s.present} participants present",
              f"- Comments left: {s.comments} (kept in the record; not part of this note)", "",
              "| item | " + " | ".join(str(k) for k in range(LOWEST, HIGHEST + 1)) + " | median |",
              "|---|" + "---|" * (HIGHEST - LOWEST + 1) + "---|"]
    for text, counts, m in zip(s.items, s.counts, s.medians):
        lines.append(f"| {text} | " + " | ".join(str(counts.get(k, 0)) for k in range(LOWEST, HIGHEST + 1))
                     + f" | {fmt_median(m)} |")
    return lines + [""]
