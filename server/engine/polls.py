"""Polls and ready-made check-ins.

Named polls keep each participant's latest answer (facilitators see them,
participants never see another's). Anonymous polls keep only a tally and the
seals of the ballots cast: a seal proves that this voter already voted when
they try again, yet without the server's secret it names nobody.
"""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.state import Alert, Poll, RoomState
from server.engine.base import Ctx, Emit, Rejected

QUESTIONNAIRES = {
    # Two items each, scored 0 (not at all) to 3 (nearly every day); a total of 3+
    # is the usual screening threshold that calls for the clinician's attention.
    # The question carries the whole wording, intro and items, so that the page and the
    # terminal client show what the server sent and keep no copy of their own.
    "phq2": ("Over the last 2 weeks, how often have you been bothered by the following? "
             "(1) little interest or pleasure in doing things; (2) feeling down, depressed or hopeless"),
    "gad2": ("Over the last 2 weeks, how often have you been bothered by the following? "
             "(1) feeling nervous, anxious or on edge; (2) not being able to stop or control worrying"),
}
QUESTIONNAIRE_THRESHOLD = 3
SCORE_OPTIONS = ["Not at all", "Several days", "More than half the days", "Nearly every day"]


def _poll(state: RoomState, pid: str) -> Poll:
    p = state.polls.get(pid)
    if p is None:
        raise Rejected("not_found", f"no poll {pid!r}")
    return p


def create(state: RoomState, cmd: c.PollCreate, ctx: Ctx) -> list[Emit]:
    if cmd.id in state.polls:
        raise Rejected("conflict", f"poll {cmd.id!r} already exists")
    question, options, lo, hi = cmd.question, list(cmd.options), cmd.min, cmd.max
    if cmd.kind in ("single", "multi"):
        if len(options) < 2:
            raise Rejected("invalid", f"a {cmd.kind} poll needs at least two options")
        if len(set(options)) != len(options):
            raise Rejected("invalid", "poll options must differ")
        lo = hi = None
    elif cmd.kind == "scale":
        lo = 0 if lo is None else lo
        hi = 10 if hi is None else hi
        if not lo < hi or hi - lo > 100:
            raise Rejected("invalid", "a scale needs min < max (at most 100 steps)")
        options = []
        if cmd.alert_at_or_below is not None:
            if cmd.anonymous:
                raise Rejected("invalid", "a low-score alert needs a named poll: an anonymous one names nobody")
            if not lo <= cmd.alert_at_or_below < hi:
                raise Rejected("invalid", f"the alert score must be from {lo} to {hi - 1}")
    else:
        if cmd.anonymous:
            raise Rejected("invalid", "questionnaires are named: facilitators must see who needs attention")
        question = question or QUESTIONNAIRES[cmd.kind]
        options, lo, hi = list(SCORE_OPTIONS), 0, 3
    if not question:
        raise Rejected("invalid", "a poll needs a question")
    alert = cmd.alert_at_or_below if cmd.kind == "scale" else None
    return [Emit("staff", e.PollCreated(id=cmd.id, question=question, kind=cmd.kind, options=options,
                                        min=lo, max=hi, anonymous=cmd.anonymous,
                                        alert_at_or_below=alert))]


def open_poll(state: RoomState, cmd: c.PollOpen, ctx: Ctx) -> list[Emit]:
    p = _poll(state, cmd.id)
    if p.state != "draft":
        raise Rejected("conflict", f"poll {p.id!r} is {p.state}")
    return [Emit("all", e.PollOpened(id=p.id, question=p.question, kind=p.kind, options=p.options,
                                     min=p.min, max=p.max, anonymous=p.anonymous))]


def close_poll(state: RoomState, cmd: c.PollClose, ctx: Ctx) -> list[Emit]:
    p = _poll(state, cmd.id)
    if p.state != "open":
        raise Rejected("conflict", f"poll {p.id!r} is {p.state}")
    return [Emit("all", e.PollClosed(id=p.id))]


def share(state: RoomState, cmd: c.PollShare, ctx: Ctx) -> list[Emit]:
    p = _poll(state, cmd.id)
    if p.state == "draft":
        raise Rejected("conflict", f"poll {p.id!r} has not been opened")
    counts, total = tally(p)
    return [Emit("all", e.PollShared(id=p.id, counts=counts, total=total))]


def _option(p: Poll, raw) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        if 1 <= raw <= len(p.options):
            return p.options[raw - 1]
        raise Rejected("invalid", f"choice {raw} is not an option number (1..{len(p.options)})")
    if raw in p.options:
        return raw
    raise Rejected("invalid", f"{raw!r} is not an option of poll {p.id!r}")


def _keys(p: Poll, cmd: c.Vote) -> tuple[list[str], list[int]]:
    if p.kind == "single":
        if cmd.choice is None:
            raise Rejected("invalid", "a single-choice vote needs `choice`")
        return [_option(p, cmd.choice)], []
    if p.kind == "multi":
        raw = cmd.choices if cmd.choices is not None else ([cmd.choice] if cmd.choice is not None else None)
        if not raw:
            raise Rejected("invalid", "a multiple-choice vote needs `choices`")
        keys = [_option(p, r) for r in raw]
        if len(set(keys)) != len(keys):
            raise Rejected("invalid", "a choice appears twice")
        return sorted(keys, key=p.options.index), []
    if p.kind == "scale":
        v = cmd.value if cmd.value is not None else cmd.choice
        if not isinstance(v, int) or isinstance(v, bool):
            raise Rejected("invalid", "a scale vote needs an integer `value`")
        if not p.min <= v <= p.max:
            raise Rejected("invalid", f"value must be between {p.min} and {p.max}")
        return [str(v)], []
    answers = cmd.answers
    if answers is None or len(answers) != 2:
        raise Rejected("invalid", f"{p.kind} needs `answers`: two scores from 0 to 3")
    return [str(sum(answers))], list(answers)


def vote(state: RoomState, cmd: c.Vote, ctx: Ctx) -> list[Emit]:
    p = _poll(state, cmd.id)
    if p.state != "open":
        raise Rejected("conflict", f"poll {p.id!r} is {p.state}")
    keys, answers = _keys(p, cmd)
    if p.anonymous:
        seal = ctx.seal(p.id)
        if seal in p.seals:
            raise Rejected("conflict", "your ballot was already cast; anonymous ballots are final")
        return [Emit("staff", e.BallotCast(id=p.id, keys=keys, seal=seal))]
    me = ctx.actor.id
    out = [Emit(f"p:{me}", e.VoteCast(id=p.id, person=me, keys=keys, answers=answers))]
    low = p.alert_at_or_below
    if low is not None and p.kind == "scale":
        # like a questionnaire: alert once as the person crosses the line, not on every re-vote
        value, before = int(keys[0]), p.answers.get(me)
        if value <= low and (before is None or int(before[0]) > low):
            out.append(Emit("staff", e.QuestionnaireAlert(id=p.id, person=me, kind="low_score", total=value)))
    if answers:
        total = sum(answers)
        before = sum(p.scores.get(me, [])) if me in p.scores else -1
        if total >= QUESTIONNAIRE_THRESHOLD and before < QUESTIONNAIRE_THRESHOLD:
            out.append(Emit("staff", e.QuestionnaireAlert(id=p.id, person=me, kind=p.kind, total=total)))
    return out


DECIDERS = {
    c.PollCreate: create, c.PollOpen: open_poll, c.PollClose: close_poll,
    c.PollShare: share, c.Vote: vote,
}


def tally(p: Poll) -> tuple[dict[str, int], int]:
    """Counts per option (per value for scales) and the number of voters."""
    if p.anonymous:
        return dict(p.tally), p.ballots
    counts: dict[str, int] = {}
    for keys in p.answers.values():
        for k in keys:
            counts[k] = counts.get(k, 0) + 1
    return counts, len(p.answers)


# --- the fold --------------------------------------------------------------------

def _created(s: RoomState, ev: e.PollCreated, at: float) -> None:
    s.polls[ev.id] = Poll(id=ev.id, question=ev.question, kind=ev.kind, options=list(ev.options),
                          min=ev.min, max=ev.max, anonymous=ev.anonymous, alert_at_or_below=ev.alert_at_or_below)


def _opened(s: RoomState, ev: e.PollOpened, at: float) -> None:
    p = s.polls.get(ev.id)
    if p is None:  # a participant's mirror learns of a poll only when it opens
        p = s.polls[ev.id] = Poll(id=ev.id, question=ev.question, kind=ev.kind, options=list(ev.options),
                                  min=ev.min, max=ev.max, anonymous=ev.anonymous)
    p.state = "open"


def _voted(s: RoomState, ev: e.VoteCast, at: float) -> None:
    p = s.polls[ev.id]
    p.answers[ev.person] = list(ev.keys)
    if ev.answers:
        p.scores[ev.person] = list(ev.answers)


def _ballot(s: RoomState, ev: e.BallotCast, at: float) -> None:
    p = s.polls[ev.id]
    p.ballots += 1
    p.seals.append(ev.seal)
    for k in ev.keys:
        p.tally[k] = p.tally.get(k, 0) + 1


def _closed(s: RoomState, ev: e.PollClosed, at: float) -> None:
    s.polls[ev.id].state = "closed"
    s.polls[ev.id].closed_seq = s.seq


def _shared(s: RoomState, ev: e.PollShared, at: float) -> None:
    s.polls[ev.id].shared = True


def _alert(s: RoomState, ev: e.QuestionnaireAlert, at: float) -> None:
    text = (f"low score {ev.total} ({ev.id})" if ev.kind == "low_score"
            else f"{ev.kind.upper()} total {ev.total}")
    s.alerts.append(Alert(kind="check_in", person=ev.person, text=text, at=at))


EVOLVERS = {
    e.PollCreated: _created, e.PollOpened: _opened, e.VoteCast: _voted, e.BallotCast: _ballot,
    e.PollClosed: _closed, e.PollShared: _shared, e.QuestionnaireAlert: _alert,
}
