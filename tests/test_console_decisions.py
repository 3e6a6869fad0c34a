"""What each console key decides, without a terminal: the room as the console mirrors it, who is
highlighted and the clock go in; a command, a question to ask first, or a word on why not comes out."""
from __future__ import annotations

import pytest

from facilitator.actions import ACTIONS, BY_NAME
from facilitator.console_actions import DIALOGS, RoomActions
from facilitator.decisions import (DECISIONS, Confirm, Dialog, Prompt, Refuse, Selection, Send, decide,
                                   waiting_target)
from protocol import commands as c
from protocol.state import FlagMark, Help, Member, Poll, RoomState, Timer

NOW = 1000.0
NOBODY = Selection()
ALEX = Selection(person="p1")


def room(**kw) -> RoomState:
    members = {
        "f1": Member(id="f1", name="Fran", role="facilitator", status="present"),
        "p1": Member(id="p1", name="Alex", status="present", breakout=2),
        "p2": Member(id="p2", name="Blake", status="present"),
        "w1": Member(id="w1", name="Casey", status="waiting"),
        "w2": Member(id="w2", name="Drew", status="waiting", agreed=True),
    }
    members.update(kw.pop("members", {}))
    base = dict(room="tue", phase="open", agreement="What is shared here stays here.", members=members)
    base.update(kw)
    return RoomState(**base)


def run(action: str, s: RoomState | None = None, sel: Selection = NOBODY, role: str = "facilitator", *args):
    return decide(action, room() if s is None else s, sel, NOW, role, *args)


def test_every_action_that_sends_a_command_has_a_decision_and_every_decision_an_action():
    sending = {a.action for a in ACTIONS if a.command is not None}
    # their dialogs send what they send themselves: the breakouts' commands, a program's events
    screens_only = {"breakouts", "program_new"}
    assert set(DECISIONS) == sending - screens_only
    assert all(hasattr(RoomActions, f"action_{name}") for name in DECISIONS)


def test_the_speaking_moves():
    assert run("next_speaker") == Send((c.NextSpeaker(),))
    assert run("end_turn") == Send((c.EndTurn(),))
    assert run("call_on", sel=ALEX) == Send((c.CallOn(target="p1"),))
    assert run("lower_hand", sel=ALEX) == Send((c.LowerHand(target="p1"),))
    assert run("raise_to_top", sel=ALEX) == Send((c.MoveInQueue(target="p1", position=1),))
    assert run("queue_mode") == Send((c.QueueMode(mode="fair"),))
    assert run("queue_mode", room(queue_mode="fair")) == Send((c.QueueMode(mode="fifo"),))
    assert run("toggle_floor") == Send((c.HoldFloor(on=True),))
    assert run("toggle_floor", room(floor_held=True)) == Send((c.HoldFloor(on=False),))


@pytest.mark.parametrize("action, words", [
    ("call_on", "call on"), ("lower_hand", "lower a hand"), ("raise_to_top", "move up the queue"),
    ("toggle_mute", "mute or unmute"), ("move_in_queue", "move in the queue"), ("remove", "remove"),
    ("excuse", "excuse"), ("note", "write a note about"), ("flag", "flag"), ("clear_flag", "clear flags of"),
    ("message_person", "write to")])
def test_an_action_on_a_person_with_nobody_highlighted_says_so(action, words):
    assert run(action) == Refuse(f"Select a person in the roster to {words}", "warning")


def test_the_same_key_mutes_and_lifts_the_mute():
    assert run("toggle_mute", sel=ALEX) == Send((c.MuteMic(target="p1"),))
    assert run("toggle_mute", room(muted=["p1"]), ALEX) == Send((c.UnmuteMic(target="p1"),))


def test_moving_in_the_queue_asks_where_and_never_above_the_top():
    ask = run("move_in_queue", sel=ALEX)
    assert isinstance(ask, Prompt) and ask.title == "Move Alex in the queue" and ask.value == "1"
    assert ask.then("3") == (c.MoveInQueue(target="p1", position=3),)
    assert ask.then("0") == (c.MoveInQueue(target="p1", position=1),)
    assert ask.then("") == () and ask.then(None) == ()


def test_a_go_around_reads_a_bare_number_as_seconds():
    ask = run("go_around")
    assert isinstance(ask, Prompt) and ask.value == "60"
    assert ask.then("90") == (c.GoAround(seconds=90),)
    assert ask.then("2:00") == (c.GoAround(seconds=120),)
    assert ask.then("soon") == () and ask.then(None) == ()


def test_stopping_a_go_around_needs_one_running():
    assert run("stop_go_around") == Refuse("No go-around is running", "information")
    assert run("stop_go_around", room(go_around=["p2"])) == Send((c.GoAroundStop(),))


def test_admit_with_nobody_waiting_says_so():
    s = room(members={"w1": Member(id="w1", name="Casey", status="left"),
                      "w2": Member(id="w2", name="Drew", status="present")})
    assert run("admit", s) == Refuse("Nobody is waiting", "information")
    assert run("deny", s) == Refuse("Nobody is waiting", "information")


def test_admit_takes_the_highlighted_person_else_the_first_ready():
    assert run("admit") == Send((c.Admit(target="w2"),))          # Drew agreed; Casey has not yet
    assert run("admit", sel=Selection(person="p1", waiting="w1")) == Send((c.Admit(target="w1"),))
    # with no agreement to accept, the first who knocked is ready
    assert waiting_target(room(agreement=""), None) == "w1"


def test_deny_and_close_ask_first():
    assert run("deny") == Confirm("Turn Drew away from this session?", "Deny", (c.Deny(target="w2"),))
    closing = run("close_session")
    assert isinstance(closing, Confirm) and closing.commands == (c.Close(),)
    assert run("open_session") == Send((c.Open(),))


def test_a_co_facilitator_may_not_close_the_session_the_engines_matrix_says():
    assert run("close_session", role="cofacilitator") == Refuse("Close session…: not for a co-facilitator")
    assert isinstance(run("open_session", role="cofacilitator"), Send)
    # an observer sends nothing at all
    for name in DECISIONS:
        assert isinstance(run(name, sel=ALEX, role="observer"), Refuse), name


def test_removing_names_the_person_and_an_empty_reason_still_removes():
    ask = run("remove", sel=ALEX)
    assert isinstance(ask, Prompt) and ask.danger and ask.empty_ok and ask.ok == "Remove Alex"
    assert ask.then("") == (c.Remove(target="p1", reason=""),)
    assert ask.then(None) == ()
    excuse = run("excuse", sel=ALEX)
    assert excuse.value == "excused" and excuse.then("ill") == (c.Excuse(target="p1", reason="ill"),)


def test_notes_and_flags_open_their_dialog_on_the_person():
    for action in ("note", "flag"):
        d = run(action, sel=ALEX)
        assert isinstance(d, Dialog) and d.name == action and d.args == ("p1", "Alex") and d.name in DIALOGS
        assert d.then(None) == ()
    assert run("note", sel=ALEX).then(c.Note(target="p1", text="quiet today")) == (
        c.Note(target="p1", text="quiet today"),)


def test_clearing_flags_needs_an_open_one():
    assert run("clear_flag", sel=ALEX) == Refuse("Alex has no open flag", "information")
    cleared = FlagMark(level="watch", reason="r", by="f1", at=1.0, cleared_at=2.0)
    s = room(members={"p1": Member(id="p1", name="Alex", status="present", flags=[cleared])})
    assert run("clear_flag", s, ALEX) == Refuse("Alex has no open flag", "information")
    s.members["p1"].flags.append(FlagMark(level="urgent", reason="r", by="f1", at=3.0))
    ask = run("clear_flag", s, ALEX)
    assert isinstance(ask, Prompt) and ask.then("safe") == (c.FlagClear(target="p1", reason="safe"),)


def test_messages_to_everyone_to_staff_and_to_one_person():
    ask = run("chat")
    assert ask.then("hello") == (c.Chat(text="hello", to="all"),)
    assert ask.then("@facilitators running late") == (c.Chat(text="running late", to="facilitators"),)
    assert ask.then("") == ()
    one = run("message_person", sel=ALEX)
    assert one.title == "Message to Alex" and one.then("hi") == (c.Chat(text="hi", to="p1"),)


def test_answering_help_acknowledges_first_then_replies_to_the_asker():
    assert run("ack_help") == Refuse("No open help request", "information")
    s = room(help={2: Help(help_id=2, person="p2", room=0, text="", at=5.0),
                   1: Help(help_id=1, person="p1", room=2, text="stuck", at=4.0),
                   3: Help(help_id=3, person="p1", room=0, text="", at=1.0, acknowledged_by="f1")})
    d = run("ack_help", s)
    assert isinstance(d, Dialog) and [h.help_id for h in d.args[0]] == [1, 2]    # open ones, oldest first
    assert d.then((1, "coming")) == (c.HelpAcknowledge(help_id=1), c.Chat(text="coming", to="p1"))
    assert d.then((2, "")) == (c.HelpAcknowledge(help_id=2),)
    assert d.then(None) == ()


def test_timers_extend_the_one_ending_soonest():
    assert run("extend_timer") == Refuse("No timer is running", "information")
    s = room(timers={"break": Timer(id="break", seconds=600, ends_at=NOW + 500),
                     "share": Timer(id="share", seconds=60, ends_at=NOW + 30),
                     "old": Timer(id="old", state="expired", ended_at=NOW - 5)})
    assert run("extend_timer", s) == Send((c.TimerExtend(id="share", seconds=60),))
    d = run("timer", s)
    assert d.name == "timer" and d.args == ({"break", "share"},)        # names already taken


def test_the_agenda_needs_segments():
    assert run("agenda") == Refuse("This session has no agenda", "information")
    d = run("agenda", room(agenda=[c.AgendaItem("Check-in", 10)]))
    assert d.then(0) == (c.AgendaGoto(index=0),) and d.then(None) == ()
    assert run("agenda_next") == Send((c.AgendaNext(),))


def test_the_poll_key_opens_a_draft_closes_an_open_poll_and_says_what_next():
    assert run("toggle_poll") == Refuse("No poll yet: press p to create one", "information")
    assert run("share_poll") == Send(())
    draft = Poll(id="q1", question="Mood?", kind="scale")
    assert run("toggle_poll", room(polls={"q1": draft})) == Send((c.PollOpen(id="q1"),))
    opened = Poll(id="q1", question="Mood?", kind="scale", state="open")
    assert run("toggle_poll", room(polls={"q1": opened})) == Send((c.PollClose(id="q1"),))
    closed = Poll(id="q1", question="Mood?", kind="scale", state="closed")
    assert run("toggle_poll", room(polls={"q1": closed})) == Refuse(
        "Poll q1 is closed; press s to share its results", "information")
    assert run("share_poll", room(polls={"q1": closed})) == Send((c.PollShare(id="q1"),))
    assert run("poll").then([c.PollOpen(id="q2")]) == (c.PollOpen(id="q2"),)


def test_listening_in_guesses_the_highlighted_persons_room():
    assert run("listen_in", room(), NOBODY, "facilitator", 0) == Send((c.ListenIn(room=0),))
    ask = run("listen_in", sel=ALEX)
    assert isinstance(ask, Prompt) and ask.value == "2" and ask.then("3") == (c.ListenIn(room=3),)
    assert run("listen_in").value == "1"


def test_the_table_names_only_decisions_that_exist():
    for name in DECISIONS:
        assert BY_NAME[name].command is not None


def test_the_survey_is_asked_closed_or_refused_where_the_session_has_none():
    assert isinstance(run("toggle_survey"), Refuse)                  # no survey in this session
    on = room(survey_enabled=True)
    assert run("toggle_survey", on) == Send((c.SurveyOpen(),))
    assert "satisfaction survey has not been asked" in run("close_session", on).question
    assert "survey" not in run("close_session").question
