"""The end-of-session satisfaction survey (issue 15, item 6b): the engine's rules and fold, who
receives what, the program setting, and the results in the record's documents.

Stories: a program turns the survey on; a facilitator asks it near the close; each participant
answers once; the answers reach the facilitators only; the note carries counts and medians, the
member's export their own answers, and nobody's export another's."""
from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from protocol import commands as c
from protocol import events as e
from server import engine
from server.engine import survey
from server.engine.base import Actor, Ctx, Rejected
from server.engine.view_fold import evolve_view
from server.engine.views import for_participants, participant_view
from server.programs.spec import ProgramError, parse
from tests.conftest import SCENARIOS

FAC = Actor("f1", "facilitator", "Dana")


def room(enabled: bool = True, people=("p1", "p2", "p3")):
    s = engine.new_room("r")
    seq = 0

    def fold(*evs):
        nonlocal seq
        for ev in evs:
            seq += 1
            engine.evolve(s, ev, 100.0 + seq, seq)
    fold(e.RoomConfigured(roster=[c.RosterEntry(id=p, name=p.upper()) for p in people], survey=enabled),
         e.SessionOpened(), *[e.Admitted(person=p, name=p.upper()) for p in people])
    return s, fold


def decide(s, cmd, actor=FAC):
    return engine.decide(s, cmd, Ctx(now=s.at, actor=actor))


def answer(s, fold, pid, ratings, comment=""):
    out = decide(s, c.SurveyAnswer(ratings=ratings, comment=comment), Actor(pid, "participant", pid.upper()))
    fold(*[x.event for x in out])
    return out


# --- the engine -------------------------------------------------------------------

def test_a_facilitator_asks_the_survey_and_each_answer_folds_into_the_room():
    s, fold = room()
    out = decide(s, c.SurveyOpen())
    assert [(x.aud, type(x.event)) for x in out] == [("all", e.SurveyOpened)]
    assert out[0].event.items == survey.ITEMS          # the wording travels with the event
    fold(*[x.event for x in out])
    assert s.survey.state == "open" and s.survey.ratings == {}
    got = answer(s, fold, "p1", [5, 4, 3], "  Thank you.  ")
    assert [(x.aud, type(x.event)) for x in got] == [("p:p1", e.SurveyAnswered)]
    answer(s, fold, "p2", [2, 4, 4])
    assert s.survey.ratings == {"p1": [5, 4, 3], "p2": [2, 4, 4]}
    assert s.survey.comments == {"p1": "Thank you."}           # trimmed; an empty one is not kept
    fold(*[x.event for x in decide(s, c.SurveyClose())])
    assert s.survey.state == "closed"
    # the fold is the same from the record: a copy folded again agrees
    assert engine.copy_state(s).survey == s.survey


def test_the_rules_of_the_survey():
    s, fold = room(enabled=False)
    with pytest.raises(Rejected) as no:
        decide(s, c.SurveyOpen())
    assert no.value.code == "conflict" and "program" in no.value.message
    s, fold = room()
    p1 = Actor("p1", "participant", "P1")
    with pytest.raises(Rejected) as early:
        decide(s, c.SurveyAnswer(ratings=[3, 3, 3]), p1)
    assert early.value.code == "conflict"
    for who, cmd in ((p1, c.SurveyOpen()), (p1, c.SurveyClose()), (FAC, c.SurveyAnswer(ratings=[1, 1, 1])),
                     (Actor("o1", "observer", "O"), c.SurveyOpen())):
        with pytest.raises(Rejected) as r:
            decide(s, cmd, who)
        assert r.value.code == "forbidden", (who, cmd)
    fold(*[x.event for x in decide(s, c.SurveyOpen(), Actor("c1", "cofacilitator", "C"))])
    with pytest.raises(Rejected) as twice:
        decide(s, c.SurveyOpen())
    assert twice.value.code == "conflict"
    with pytest.raises(Rejected) as short:
        decide(s, c.SurveyAnswer(ratings=[4, 4]), p1)
    assert short.value.code == "invalid"
    answer(s, fold, "p1", [4, 4, 4])
    with pytest.raises(Rejected) as final:
        decide(s, c.SurveyAnswer(ratings=[1, 1, 1]), p1)
    assert final.value.code == "conflict" and s.survey.ratings["p1"] == [4, 4, 4]
    # out of range is refused at the edge, by the protocol's types
    import msgspec
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"do": "survey_answer", "ratings": [0, 6, 3]}, c.AnyCommand)
    fold(*[x.event for x in decide(s, c.SurveyClose())])
    with pytest.raises(Rejected) as closed:
        decide(s, c.SurveyAnswer(ratings=[2, 2, 2]), Actor("p2", "participant", "P2"))
    assert closed.value.code == "conflict"
    # asked again after a close: the answers stay, and stay final
    fold(*[x.event for x in decide(s, c.SurveyOpen())])
    assert s.survey.state == "open" and s.survey.ratings == {"p1": [4, 4, 4]}


def test_medians_by_hand():
    assert survey.median([]) is None
    assert survey.median([4]) == 4
    assert survey.median([5, 3, 4]) == 4
    assert survey.median([3, 4, 5, 5]) == 4.5
    assert survey.median([1, 2, 4, 5]) == 3
    rows = survey.summary({"a": [5, 1, 2], "b": [4, 1, 3], "c": [4, 2, 5], "d": [1, 5, 5]}, survey.ITEMS)
    assert [m for _t, _c, m in rows] == [4, 1.5, 4]
    assert rows[0][1] == {1: 1, 2: 0, 3: 0, 4: 2, 5: 1}


# --- privacy: what a participant's view and copies hold ------------------------------

def test_a_participant_learns_only_that_they_answered():
    s, fold = room()
    fold(*[x.event for x in decide(s, c.SurveyOpen())])
    views = {p: participant_view(s, p) for p in ("p1", "p2")}
    out = answer(s, fold, "p1", [5, 5, 1], "private words")
    mine = for_participants(out[0].event)
    assert (mine.person, mine.ratings, mine.comment) == ("p1", [], "")
    evolve_view(views["p1"], mine, s.at, s.seq)      # p2 receives nothing of it (aud p:p1)
    assert views["p1"] == participant_view(s, "p1")
    views["p2"].seq = s.seq
    assert views["p2"] == participant_view(s, "p2")
    assert views["p1"].survey.answered and not views["p2"].survey.answered
    assert "private words" not in repr(participant_view(s, "p1"))
    assert "5, 5, 1" not in repr(participant_view(s, "p1"))


async def test_a_participants_stream_never_holds_another_ones_answers(group, caplog):
    caplog.set_level(logging.DEBUG)
    f = await group.start(participants=("p1", "p2"), survey=True)
    await group.admit("p1", "p2")
    p1, p2 = group.clients["p1"], group.clients["p2"]
    assert type(await f.command(c.SurveyOpen())).__name__ == "Ack"
    assert type(await p1.command(c.SurveyAnswer(ratings=[5, 2, 4], comment="Alex's secret words"))).__name__ == "Ack"
    assert type(await p2.command(c.SurveyAnswer(ratings=[1, 3, 3]))).__name__ == "Ack"
    assert type(await f.command(c.SurveyClose())).__name__ == "Ack"
    for cl in (f, p1, p2):
        await cl.sync()

    def answered(cl):
        return [(x.ev.person, x.ev.ratings, x.ev.comment) for x in cl.events if isinstance(x.ev, e.SurveyAnswered)]
    assert answered(f) == [("p1", [5, 2, 4], "Alex's secret words"), ("p2", [1, 3, 3], "")]
    assert answered(p1) == [("p1", [], "")]
    assert answered(p2) == [("p2", [], "")]
    assert [type(x.ev) for x in p2.events if "survey" in type(x.ev).__struct_config__.tag] == [
        e.SurveyOpened, e.SurveyAnswered, e.SurveyClosed]
    assert "secret words" not in caplog.text             # free text, like chat: never logged


# --- the program setting ---------------------------------------------------------

BASE = {"program": {"id": "p", "timezone": "UTC"}}


def test_a_program_turns_the_survey_on_and_old_files_still_load():
    assert parse(BASE).defined.survey is False
    assert parse({"program": {**BASE["program"], "survey": True}}).defined.survey is True
    assert parse({"program": {**BASE["program"], "survey": {"enabled": True}}}).defined.survey is True
    assert parse({"program": {**BASE["program"], "survey": {"enabled": False}}}).defined.survey is False
    with pytest.raises(ProgramError, match="program.survey"):
        parse({"program": {**BASE["program"], "survey": "yes"}})
    with pytest.raises(ProgramError, match="unknown key"):
        parse({"program": {**BASE["program"], "survey": {"items": 3}}})
    # a record from before the field: its program_defined decodes with the survey off
    import msgspec
    from server.programs.model import ProgramDefined, decode_event
    old = msgspec.msgpack.encode({"type": "program_defined", "id": "p", "title": "", "timezone": "UTC"})
    assert decode_event(old) == ProgramDefined(id="p", title="", timezone="UTC", survey=False)


# --- the record's documents --------------------------------------------------------

LIBRARY = os.path.join(SCENARIOS, "program_evening")
ROOM = "iop-evening-2026-11-12"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """The evening program and its 12 November session, where four of five answer the survey."""
    db = str(tmp_path_factory.mktemp("survey") / "record.db")
    r = cli("program", "import", os.path.join(LIBRARY, "program.toml"), "--db", db)
    assert r.returncode == 0, r.stderr
    r = cli("replay", os.path.join(LIBRARY, "session_05_2026-11-12.toml"), "--db", db)
    assert r.returncode == 0, r.stdout + r.stderr
    return db


def export(db, *args) -> str:
    r = cli("export", "--db", db, "--program", "iop-evening", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_group_note_carries_counts_and_medians_only(record):
    note = export(record, "--format", "note", "--room", ROOM)
    section = note[note.index("## Satisfaction survey"):note.index("## Narrative")]
    # hand-computed from session_05: Alex 5 4 5, Sam 4 4 3, Riley 3 5 4, Taylor 5 3 2
    assert section.splitlines() == [
        "## Satisfaction survey", "",
        "- Answered: 4 of 5 participants present",
        "- Comments left: 2 (kept in the record; not part of this note)", "",
        "| item | 1 | 2 | 3 | 4 | 5 | median |",
        "|---|---|---|---|---|---|---|",
        "| This group was helpful to me today | 0 | 0 | 1 | 1 | 2 | 4.5 |",
        "| I felt respected and heard | 0 | 0 | 1 | 2 | 1 | 4 |",
        "| I would recommend this group to someone in my place | 0 | 1 | 1 | 1 | 1 | 3.5 |", ""]
    assert "Good to be back" not in note and "talked over me" not in note


def test_the_staff_report_lists_each_session_where_it_was_asked(record):
    assert export(record, "--format", "survey") == (
        "date,room,present,answered,comments,helpful_median,respected_median,recommend_median\n"
        f"2026-11-12,{ROOM},5,4,2,4.5,4,3.5\n")


def test_a_members_export_shows_only_their_own_answers(record):
    taylor = export(record, "--format", "member", "--member", "p6")
    section = taylor[taylor.index("## Satisfaction survey"):taylor.index("## Notes and flags")]
    rows = [ln for ln in section.splitlines() if ln.startswith("| 2026")]
    # their comment names Sam, another member: masked like any free text
    assert rows == [f"| 2026-11-12 | `{ROOM}` | 5 | 3 | 2 | [another member] talked over me again, "
                    "but the topic was good. |"]
    assert "Sam" not in taylor and "Good to be back" not in taylor
    morgan = export(record, "--format", "member", "--member", "p7")    # came, did not answer
    section = morgan[morgan.index("## Satisfaction survey"):morgan.index("## Notes and flags")]
    assert "- (none)" in section and "| 2026" not in section


def test_the_summary_agrees_with_the_standard_library_for_any_answers():
    import statistics

    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.dictionaries(st.text(min_size=1, max_size=4), st.lists(st.integers(1, 5), min_size=3, max_size=3),
                           max_size=15))
    def check(ratings):
        for i, (_text, counts, m) in enumerate(survey.summary(ratings, survey.ITEMS)):
            vals = [r[i] for r in ratings.values()]
            assert sum(counts.values()) == len(ratings)
            assert m == (statistics.median(vals) if vals else None)
    check()
