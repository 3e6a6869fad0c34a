"""What each key decides, in the room as this console sees it: a command to send, a question to ask
first, or a word on why nothing happens.

These are plain functions of the mirrored state, of who is highlighted and of the clock, so each
decision is tested without a terminal; the app's `action_*` methods only gather those three and carry
out the answer (`facilitator/console_actions.py`). Who may use an action is the engine's permission
matrix (`facilitator.actions.may`), asked once here for every action that sends a command. The server
still decides whether the command holds: a refusal comes back in its own words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from facilitator.actions import BY_NAME, may, role_label, with_article
from facilitator.mirror import active_poll, name_of, open_help, waiting
from facilitator.screens.timer import parse_duration
from protocol import commands as c
from protocol.state import RoomState
from server.engine.timers import remaining

Commands = tuple[c.Command, ...]


@dataclass(frozen=True)
class Selection:
    person: str | None = None     # the highlighted person: the waiting room's while it has focus, else the roster's
    waiting: str | None = None    # the waiting room's highlighted person, focused or not


@dataclass(frozen=True)
class Send:
    commands: Commands = ()       # in order; the first refusal stops the rest


@dataclass(frozen=True)
class Refuse:
    message: str
    severity: str = "warning"


@dataclass(frozen=True)
class Prompt:
    """One line of text to ask for; `then` turns the answer (None when cancelled) into commands."""
    title: str
    label: str
    then: Callable[[str | None], Commands]
    value: str = ""
    restrict: str | None = None
    ok: str = "OK"
    danger: bool = False
    empty_ok: bool = False


@dataclass(frozen=True)
class Confirm:
    question: str
    yes: str
    commands: Commands


@dataclass(frozen=True)
class Dialog:
    """A dialog of its own (`facilitator/console_actions.DIALOGS` names the screens); `then` turns
    what it returns into commands."""
    name: str
    args: tuple = ()
    then: Callable[[object], Commands] = field(default=lambda result: ())


Decision = Send | Refuse | Prompt | Confirm | Dialog


def send(*cmds: c.Command) -> Send:
    return Send(tuple(cmds))


def one(result) -> Commands:
    """A dialog that hands back one command, or nothing."""
    return (result,) if result else ()


def _need(sel: Selection, what: str) -> str | Refuse:
    return sel.person if sel.person is not None else Refuse(f"Select a person in the roster to {what}")


def waiting_target(s: RoomState | None, highlighted: str | None) -> str | None:
    """The waiting room's highlighted person, else the first who is ready (agreed, where there is
    an agreement), else the first who knocked."""
    if highlighted:
        return highlighted
    people = waiting(s) if s is not None else []
    ready = [m for m in people if m.agreed or not s.agreement]
    return (ready or people)[0].id if people else None


# --- speaking ---------------------------------------------------------------------------------------

def next_speaker(s, sel, now):
    return send(c.NextSpeaker())


def call_on(s, sel, now):
    pid = _need(sel, "call on")
    return pid if isinstance(pid, Refuse) else send(c.CallOn(target=pid))


def end_turn(s, sel, now):
    return send(c.EndTurn())


def lower_hand(s, sel, now):
    pid = _need(sel, "lower a hand")
    return pid if isinstance(pid, Refuse) else send(c.LowerHand(target=pid))


def raise_to_top(s, sel, now):
    pid = _need(sel, "move up the queue")
    return pid if isinstance(pid, Refuse) else send(c.MoveInQueue(target=pid, position=1))


def toggle_mute(s, sel, now):
    """A staff mute holds until staff lift it: the same key does both."""
    pid = _need(sel, "mute or unmute")
    if isinstance(pid, Refuse):
        return pid
    return send(c.UnmuteMic(target=pid) if s is not None and pid in s.muted else c.MuteMic(target=pid))


def toggle_floor(s, sel, now):
    return send(c.HoldFloor(on=not (s is not None and s.floor_held)))


def move_in_queue(s, sel, now):
    pid = _need(sel, "move in the queue")
    if isinstance(pid, Refuse):
        return pid
    return Prompt(f"Move {name_of(s, pid)} in the queue", "Place in the queue (1 = speaks next)", value="1",
                  restrict=r"\d{0,3}", ok="Move",
                  then=lambda a: (c.MoveInQueue(target=pid, position=max(1, int(a))),) if a else ())


def queue_mode(s, sel, now):
    return send(c.QueueMode(mode="fifo" if s is not None and s.queue_mode == "fair" else "fair"))


def _go_around_seconds(answer: str | None) -> Commands:
    # a bare number is seconds here, not minutes as in the timer dialog
    secs = parse_duration(answer + ("s" if answer.isdigit() else "")) if answer else None
    return (c.GoAround(seconds=secs),) if secs else ()


def go_around(s, sel, now):
    return Prompt("Go-around", "Seconds each (e.g. 60, 90s, 2:00)", value="60", then=_go_around_seconds)


def stop_go_around(s, sel, now):
    if s is None or s.go_around is None:
        return Refuse("No go-around is running", "information")
    return send(c.GoAroundStop())


# --- the waiting room and people ----------------------------------------------------------------------

def admit(s, sel, now):
    pid = waiting_target(s, sel.waiting)
    return Refuse("Nobody is waiting", "information") if pid is None else send(c.Admit(target=pid))


def deny(s, sel, now):
    pid = waiting_target(s, sel.waiting)
    if pid is None:
        return Refuse("Nobody is waiting", "information")
    return Confirm(f"Turn {name_of(s, pid)} away from this session?", "Deny", (c.Deny(target=pid),))


def remove(s, sel, now):
    pid = _need(sel, "remove")
    if isinstance(pid, Refuse):
        return pid
    name = name_of(s, pid)
    # a removal is final for this session: the dialog says so and names the person
    return Prompt(f"Remove {name} from this session?",
                  f"{name} leaves at once and cannot come back to this session. Reason (facilitators only):",
                  ok=f"Remove {name}", danger=True, empty_ok=True,
                  then=lambda reason: (c.Remove(target=pid, reason=reason),) if reason is not None else ())


def excuse(s, sel, now):
    pid = _need(sel, "excuse")
    if isinstance(pid, Refuse):
        return pid
    return Prompt(f"Excuse {name_of(s, pid)}", "Reason", value="excused",
                  then=lambda reason: (c.Excuse(target=pid, reason=reason),) if reason is not None else ())


def note(s, sel, now):
    pid = _need(sel, "write a note about")
    return pid if isinstance(pid, Refuse) else Dialog("note", (pid, name_of(s, pid)), one)


def flag(s, sel, now):
    pid = _need(sel, "flag")
    return pid if isinstance(pid, Refuse) else Dialog("flag", (pid, name_of(s, pid)), one)


def clear_flag(s, sel, now):
    pid = _need(sel, "clear flags of")
    if isinstance(pid, Refuse):
        return pid
    m = s.members.get(pid)
    if m is None or not any(f.cleared_at is None for f in m.flags):
        return Refuse(f"{name_of(s, pid)} has no open flag", "information")
    return Prompt(f"Clear flags: {m.name}", "How it was resolved (kept in the record)", ok="Clear flags",
                  empty_ok=True,
                  then=lambda reason: (c.FlagClear(target=pid, reason=reason),) if reason is not None else ())


# --- messages and help --------------------------------------------------------------------------------

def _to_all(text: str | None) -> Commands:
    if not text:
        return ()
    if text.startswith("@facilitators "):
        return (c.Chat(text=text[len("@facilitators "):], to="facilitators"),)
    return (c.Chat(text=text, to="all"),)


def chat(s, sel, now):
    return Prompt("Message", "To everyone (start with @facilitators for staff only)", ok="Send", then=_to_all)


def message_person(s, sel, now):
    pid = _need(sel, "write to")
    if isinstance(pid, Refuse):
        return pid
    return Prompt(f"Message to {name_of(s, pid)}", "Only they (and staff) see it", ok="Send",
                  then=lambda text: (c.Chat(text=text, to=pid),) if text else ())


def ack_help(s, sel, now):
    pending = open_help(s) if s is not None else []
    if not pending:
        return Refuse("No open help request", "information")

    def answered(answer) -> Commands:
        if answer is None:
            return ()
        help_id, reply = answer
        h = s.help.get(help_id)
        # the answer first: the person learns someone is coming, then reads the reply
        return (c.HelpAcknowledge(help_id=help_id),) + ((c.Chat(text=reply, to=h.person),) if reply and h else ())
    return Dialog("help_answer", (sorted(pending, key=lambda h: h.help_id), s), answered)


# --- timers, the agenda and polls ---------------------------------------------------------------------

def _live_timers(s) -> list:
    return [t for t in (s.timers.values() if s is not None else []) if t.state in ("running", "paused")]


def timer(s, sel, now):
    return Dialog("timer", ({t.id for t in _live_timers(s)},), one)


def extend_timer(s, sel, now):
    live = _live_timers(s)
    if not live:
        return Refuse("No timer is running", "information")
    return send(c.TimerExtend(id=min(live, key=lambda t: remaining(t, now)).id, seconds=60))


def agenda_next(s, sel, now):
    return send(c.AgendaNext())


def agenda(s, sel, now):
    if s is None or not s.agenda:
        return Refuse("This session has no agenda", "information")
    return Dialog("agenda", (s,), lambda index: (c.AgendaGoto(index=index),) if index is not None else ())


def poll(s, sel, now):
    return Dialog("poll", (), lambda cmds: tuple(cmds or ()))


def toggle_poll(s, sel, now):
    p = active_poll(s) if s is not None else None
    if p is None:
        return Refuse("No poll yet: press p to create one", "information")
    if p.state == "draft":
        return send(c.PollOpen(id=p.id))
    if p.state == "open":
        return send(c.PollClose(id=p.id))
    return Refuse(f"Poll {p.id} is closed; press s to share its results", "information")


def share_poll(s, sel, now):
    p = active_poll(s) if s is not None else None
    return send(c.PollShare(id=p.id)) if p is not None else send()


# --- breakouts and the session ------------------------------------------------------------------------

def listen_in(s, sel, now, room: int | None = None):
    """Listens in to a breakout room (0: back to the main room).

    Without a room, the highlighted person's room is the likely one: a facilitator
    usually goes to listen where someone needs them."""
    if room is not None:
        return send(c.ListenIn(room=room))
    m = s.members.get(sel.person or "") if s is not None else None
    guess = str(m.breakout) if m is not None and m.breakout else "1"
    return Prompt("Listen in", "Breakout room number (0: back to the main room)", value=guess,
                  restrict=r"\d{0,2}", ok="Listen", then=lambda a: (c.ListenIn(room=int(a)),) if a else ())


def open_session(s, sel, now):
    return send(c.Open())


def close_session(s, sel, now):
    q = "Close the session for everyone? Attendance becomes final."
    if s is not None and s.survey_enabled and s.survey is None:
        # the close is where the survey is offered: after it, nobody is left to answer
        q += " The satisfaction survey has not been asked yet: No, then S and o, asks it first."
    return Confirm(q, "Close session", (c.Close(),))


def toggle_survey(s, sel, now):
    """Asks the satisfaction survey, or closes it while it is open."""
    if s is None:
        return send()
    if not s.survey_enabled:
        return Refuse("This session has no survey: its program's settings turn it on (Survey: yes).")
    return send(c.SurveyClose() if s.survey is not None and s.survey.state == "open" else c.SurveyOpen())


DECISIONS: dict[str, Callable[..., Decision]] = {f.__name__: f for f in (
    next_speaker, call_on, end_turn, lower_hand, raise_to_top, toggle_mute, toggle_floor, move_in_queue,
    queue_mode, go_around, stop_go_around, admit, deny, remove, excuse, note, flag, clear_flag, chat,
    message_person, ack_help, timer, extend_timer, agenda_next, agenda, poll, toggle_poll, share_poll,
    listen_in, open_session, close_session, toggle_survey)}

def decide(action: str, s: RoomState | None, sel: Selection, now: float, role: str, *args) -> Decision:
    """The action's decision, after the engine's matrix says this role may use it at all."""
    a = BY_NAME[action]
    if not may(role, a):
        return Refuse(f"{a.title}: not for {with_article(role_label(role))}")
    return DECISIONS[action](s, sel, now, *args)
