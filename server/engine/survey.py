"""The end-of-session satisfaction survey: a few ratings and a comment, for the staff.

A program turns it on (`survey = true` in its file); a facilitator asks it near
the close. Each participant answers once. The answers go to the facilitators
only: the participant's own copy of `survey_answered` has them cleared
(`views.for_participants`), so a participant sees only that they answered, and
nobody sees anyone else's. The wording lives here and nowhere else: it travels
in `survey_opened`, so the page and the terminal client show the server's text.
"""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.state import RoomState, Survey
from server.engine.base import Ctx, Emit, Rejected

# Our own wording (not a licensed instrument): each rated 1 to 5.
ITEMS = [
    "This group was helpful to me today",
    "I felt respected and heard",
    "I would recommend this group to someone in my place",
]
LOW = "Strongly disagree"
HIGH = "Strongly agree"
COMMENT = "Anything you would like the facilitators to know? (optional)"
LOWEST, HIGHEST = 1, 5
SHORT = ["helpful", "respected", "recommend"]      # column names in reports


def open_survey(state: RoomState, cmd: c.SurveyOpen, ctx: Ctx) -> list[Emit]:
    if not state.survey_enabled:
        raise Rejected("conflict", "this session has no survey (its program does not turn it on)")
    if state.survey is not None and state.survey.state == "open":
        raise Rejected("conflict", "the survey is already open")
    return [Emit("all", e.SurveyOpened(items=list(ITEMS), low=LOW, high=HIGH, comment=COMMENT))]


def answer(state: RoomState, cmd: c.SurveyAnswer, ctx: Ctx) -> list[Emit]:
    s = state.survey
    if s is None or s.state != "open":
        raise Rejected("conflict", "the survey is not open")
    me = ctx.actor.id
    if me in s.ratings:
        raise Rejected("conflict", "your answers are in: the survey is answered once")
    if len(cmd.ratings) != len(s.items):
        raise Rejected("invalid", f"the survey needs {len(s.items)} ratings from {LOWEST} to {HIGHEST}, "
                                  "one per item, in order")
    return [Emit(f"p:{me}", e.SurveyAnswered(person=me, ratings=list(cmd.ratings),
                                             comment=cmd.comment.strip()))]


def close_survey(state: RoomState, cmd: c.SurveyClose, ctx: Ctx) -> list[Emit]:
    if state.survey is None or state.survey.state != "open":
        raise Rejected("conflict", "the survey is not open")
    return [Emit("all", e.SurveyClosed())]


DECIDERS = {c.SurveyOpen: open_survey, c.SurveyAnswer: answer, c.SurveyClose: close_survey}


def median(values: list[int]) -> float | None:
    """The middle rating (the mean of the two middle ones for an even count)."""
    if not values:
        return None
    v = sorted(values)
    n = len(v)
    return float(v[n // 2]) if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def summary(ratings: dict[str, list[int]], items: list[str]) -> list[tuple[str, dict[int, int], float | None]]:
    """Per item: its text, the count of each rating 1..5, and the median. Names nobody."""
    out = []
    for i, text in enumerate(items):
        vals = [r[i] for r in ratings.values() if i < len(r)]
        counts = {k: vals.count(k) for k in range(LOWEST, HIGHEST + 1)}
        out.append((text, counts, median(vals)))
    return out


# --- the fold --------------------------------------------------------------------

def _opened(s: RoomState, ev: e.SurveyOpened, at: float) -> None:
    if s.survey is None:
        s.survey = Survey(items=list(ev.items), low=ev.low, high=ev.high, comment=ev.comment, opened_at=at)
    s.survey.state = "open"


def _answered(s: RoomState, ev: e.SurveyAnswered, at: float) -> None:
    if s.survey is None:
        return
    s.survey.ratings[ev.person] = list(ev.ratings)
    if ev.comment:
        s.survey.comments[ev.person] = ev.comment


def _closed(s: RoomState, ev: e.SurveyClosed, at: float) -> None:
    if s.survey is not None:
        s.survey.state = "closed"
        s.survey.closed_seq = s.seq


EVOLVERS = {e.SurveyOpened: _opened, e.SurveyAnswered: _answered, e.SurveyClosed: _closed}
