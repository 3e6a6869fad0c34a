"""One wording of each event: the console's event log and a reviewer's timeline say the same thing, by name."""
from __future__ import annotations

from protocol import events as e
from protocol.state import Member
from server import engine, review
from server.wording import event_line as describe


def _room():
    s = engine.new_room("tue")
    s.members["p1"] = Member(id="p1", name="Alex", role="participant")
    s.members["f1"] = Member(id="f1", name="Dana", role="facilitator")
    return s


def test_the_review_timeline_words_events_as_the_console_does_by_name():
    s = _room()
    history = [(1000.0, 1, "staff", e.SessionOpened()),
               (1030.0, 2, "staff", e.ParticipantWaiting(person="p1", name="Alex")),
               (1060.0, 3, "all", e.Admitted(person="p1", name="Alex")),
               (1090.0, 4, "all", e.HandRaised(person="p1"))]
    s.opened_at = 1000.0
    assert review.timeline(s, history) == [("0:00", "session opened"), ("0:30", "Alex is in the waiting room"),
                                           ("1:00", "Alex admitted")]     # a raised hand is not the session's course
    assert [x for _t, x in review.timeline(s, history)] == [describe(s, ev) for _a, _s, _u, ev in history[:3]]


def test_a_review_leaves_out_what_anyone_typed_and_the_console_shows_it():
    s = _room()
    help_ = e.HelpRequested(help_id=1, person="p1", room=2, text="I need to step out")
    flag = e.Flagged(by="f1", target="p1", level="watch", reason="mentioned not sleeping")
    removed = e.Removed(person="p1", reason="asked to leave")
    chat = e.ChatPosted(by="p1", name="Alex", to="facilitators", text="can we talk after?")
    assert describe(s, help_) == "HELP from room 2: Alex I need to step out"
    assert describe(s, help_, words=False) == "HELP from room 2: Alex"
    assert describe(s, flag) == "FLAG watch on Alex: mentioned not sleeping"
    assert describe(s, flag, words=False) == "FLAG watch on Alex"
    assert describe(s, removed, words=False) == "Alex removed"
    assert describe(s, chat) == "Alex to facilitators: can we talk after?"
    assert describe(s, chat, words=False) == "Alex wrote to facilitators"
    # a flag without a reason ends at the name, not at a colon
    assert describe(s, e.Flagged(by="f1", target="p1", level="urgent")) == "FLAG urgent on Alex"


def test_every_kind_of_event_has_words_and_a_survey_answer_tells_only_who():
    import typing
    import msgspec
    s = _room()
    examples = {
        e.SurveyAnswered: e.SurveyAnswered(person="p1", ratings=[5, 4, 1], comment="the facilitator was rude"),
        e.VoiceJoined: e.VoiceJoined(person="f1", room=2, listening=True),
    }
    for kind in typing.get_args(e.AnyEvent):
        ev = examples.get(kind)
        if ev is None:      # any instance will do: the words must not be the class's name
            fields = {f.name: _sample(f.type) for f in msgspec.structs.fields(kind) if f.required}
            ev = kind(**fields)
        assert describe(s, ev) != kind.__name__, kind.__name__
    answered = describe(s, examples[e.SurveyAnswered])
    assert answered == "Alex answered the satisfaction survey" and "rude" not in answered and "5" not in answered
    assert describe(s, examples[e.VoiceJoined]) == "Dana listens in to breakout room 2"


def _sample(t):
    """A value of a field's type, for building an event of each kind."""
    import typing
    origin = typing.get_origin(t)
    if origin is typing.Annotated:
        return _sample(typing.get_args(t)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return _sample(next(a for a in typing.get_args(t) if a is not type(None)))
    if origin in (list, tuple, set):
        return []
    if origin is dict:
        return {}
    if origin is typing.Literal:
        return typing.get_args(t)[0]
    return {str: "p1", int: 1, float: 1.0, bool: False}.get(t, None) if isinstance(t, type) else "p1"


def test_the_review_timeline_tells_when_the_survey_was_asked_and_closed_but_not_who_said_what():
    s = _room()
    s.opened_at = 1000.0
    history = [(1000.0, 1, "staff", e.SessionOpened()),
               (4300.0, 2, "all", e.SurveyOpened(items=["Helpful"], low="No", high="Yes", comment="Anything?")),
               (4310.0, 3, "p:p1", e.SurveyAnswered(person="p1", ratings=[2], comment="too long")),
               (4500.0, 4, "all", e.SurveyClosed())]
    assert review.timeline(s, history) == [("0:00", "session opened"), ("55:00", "satisfaction survey asked"),
                                           ("58:20", "satisfaction survey closed")]
