"""Every action of the console, once: its key, footer label, palette entry, help text and command.

The footer, the command palette, the help screen and the README's key list are
all made from this table, so that a key cannot be documented in one place and
missing in another. Who may use an action comes from the engine's permission
matrix (`server.engine.permissions`): the console never keeps a second copy of
who may do what, it only asks which command an action sends.
"""
from __future__ import annotations

from dataclasses import dataclass

from server.engine.permissions import allowed


@dataclass(frozen=True)
class Action:
    action: str              # the app's action name (action_<name>)
    label: str               # short words: the footer and the help screen
    help: str                # one line: the palette and the help screen
    group: str               # what it is for, in the help screen
    key: str | None = None   # Textual key name; None: palette only
    command: str | None = None   # the engine command it sends: who may use it
    footer: bool = False     # shown in the footer
    narrow: bool = False     # still shown in the footer at 80 columns
    palette: str | None = None   # the palette's title; None: the label

    @property
    def title(self) -> str:
        return self.palette or self.label


SPEAKING, PEOPLE, MESSAGES, TIMERS, POLLS, BREAKOUTS, SESSION = (
    "Speaking", "Waiting room and people", "Messages and help", "Timers and agenda", "Polls",
    "Breakouts", "Session and screens")
GROUPS = [SPEAKING, PEOPLE, MESSAGES, TIMERS, POLLS, BREAKOUTS, SESSION]

ACTIONS: list[Action] = [
    # the footer shows these first: the moves of a running group
    Action("next_speaker", "Next", "The head of the queue speaks; the current turn ends", SPEAKING, "n",
           "next_speaker", footer=True, narrow=True, palette="Next speaker"),
    Action("call_on", "Call on", "The person highlighted in the roster speaks now", SPEAKING, "c", "call_on",
           footer=True, narrow=True, palette="Call on selected person"),
    Action("admit", "Admit", "Admit the highlighted (or first ready) person waiting", PEOPLE, "a", "admit",
           footer=True, narrow=True, palette="Admit from waiting room"),
    Action("lower_hand", "Lower", "Lower the highlighted person's hand", SPEAKING, "l", "lower_hand",
           footer=True, palette="Lower hand"),
    Action("timer", "Timer", "Start a named countdown", TIMERS, "t", "timer_start", footer=True, narrow=True,
           palette="Start a timer"),
    Action("poll", "Poll", "Create a poll or check-in: mood 0-10, PHQ-2, GAD-2, choices, scales", POLLS, "p",
           "poll_create", footer=True, narrow=True, palette="Create a poll or check-in"),
    Action("toggle_poll", "Open/close", "Opens the draft poll or closes the open one", POLLS, "o",
           "poll_open", footer=True, palette="Open / close the poll"),
    Action("breakouts", "Breakouts", "Plan, adjust, open and close breakout rooms; message every room",
           BREAKOUTS, "b", "breakouts_plan", footer=True, narrow=True),
    Action("note", "Note", "A private note about the highlighted person (staff only)", PEOPLE, "N", "note",
           footer=True, palette="Note about participant"),
    Action("flag", "Flag", "A risk flag on the highlighted person: watch or urgent, with a reason", PEOPLE,
           "f", "flag", footer=True, narrow=True, palette="Flag participant"),
    Action("attendance", "Attendance", "Who came, when, for how long; export CSV", SESSION, "A", footer=True),
    Action("help", "Help", "Every key, what the roster's columns mean", SESSION, "question_mark", footer=True,
           narrow=True, palette="Keys and help"),
    # the rest: in the help screen and the palette
    Action("end_turn", "End turn", "The current speaker's turn ends", SPEAKING, "e", "end_turn"),
    Action("raise_to_top", "To top of queue", "The highlighted person speaks next", SPEAKING, "u",
           "move_in_queue", palette="Move to top of queue"),
    Action("move_in_queue", "Move in queue…", "Put the highlighted person's hand at a place in the queue",
           SPEAKING, None, "move_in_queue"),
    Action("queue_mode", "Queue order", "Switch between first come and least-talk-time first", SPEAKING, None,
           "queue_mode", palette="Queue order: fair / first come"),
    Action("go_around", "Go-around", "A timed round: each present participant speaks in turn", SPEAKING, "g",
           "go_around"),
    Action("stop_go_around", "Stop go-around", "End the running go-around now", SPEAKING, "G",
           "go_around_stop"),
    # voice: a mute that holds (the media server stops the audio), and the floor
    Action("toggle_mute", "Mute / unmute", "Mute the highlighted person's voice (it holds), or let them speak",
           SPEAKING, "M", "mute", palette="Mute or unmute participant"),
    Action("toggle_floor", "Hold floor", "Only the current speaker and staff are heard; again to release",
           SPEAKING, "H", "hold_floor", palette="Hold / release the floor"),
    Action("person", "Person", "The highlighted person: notes, flags, location, talk time (also Enter)",
           PEOPLE, "v", palette="Show person: notes and flags"),
    Action("clear_flag", "Clear flags", "Resolve the highlighted person's open flags", PEOPLE, "F",
           "flag_clear"),
    Action("deny", "Deny", "Turn away the highlighted person waiting", PEOPLE, "d", "deny",
           palette="Deny from waiting room"),
    Action("remove", "Remove…", "Remove the highlighted person from the session (asks first)", PEOPLE, None,
           "remove", palette="Remove participant"),
    Action("excuse", "Excuse…", "Mark the highlighted absent participant as excused", PEOPLE, None, "excuse",
           palette="Excuse absence"),
    Action("chat", "Message all", "To everyone; start with @facilitators for staff only", MESSAGES, "m", "chat",
           palette="Chat message"),
    Action("message_person", "Message one", "A private message to the highlighted person", MESSAGES, "w",
           "chat", palette="Private message to participant"),
    Action("ack_help", "Answer help", "Shows who asked and why; answer, with a reply if you like", MESSAGES,
           "h", "help_ack", palette="Answer help request"),
    Action("extend_timer", "+1 min", "The timer ending soonest gets one more minute", TIMERS, "x",
           "timer_extend", palette="Extend timer by a minute"),
    Action("agenda_next", "Next segment", "Move the agenda on", TIMERS, "j", "agenda_next",
           palette="Next agenda segment"),
    Action("agenda", "Agenda…", "Every segment: go to any, back as well as forward", TIMERS, "J",
           "agenda_goto", palette="Agenda: go to a segment"),
    Action("share_poll", "Share results", "Participants see the totals", POLLS, "s", "poll_share",
           palette="Share poll results"),
    Action("survey", "Survey", "The satisfaction survey: ask it near the close; tonight's answers, "
           "and results across the program's sessions", POLLS, "S", palette="Satisfaction survey"),
    Action("toggle_survey", "Ask / close survey", "Asks everyone the satisfaction survey, or closes it",
           POLLS, None, "survey_open", palette="Ask / close the satisfaction survey"),
    Action("listen_in", "Listen in…", "Join an open breakout room to listen; room 0 is the main room",
           BREAKOUTS, None, "listen_in", palette="Listen in to a breakout room"),
    Action("invite", "Invite", "Join links and tokens for this room (local rooms)", SESSION, "i"),
    Action("program", "Program", "The program: schedule, staff, members, rules, score trends, join links",
           SESSION, "P", palette="Program screen"),
    Action("program_new", "New program…", "Create a program: schedule, time zone, capacity, agenda, staff",
           SESSION, None, "program_change", palette="New program"),
    Action("open_session", "Open session", "Participants may join", SESSION, None, "open"),
    Action("close_session", "Close session…", "Ends the session for everyone; attendance becomes final",
           SESSION, None, "close"),
    Action("toggle_log", "Log", "Show or hide the event log", SESSION, "L", palette="Event log"),
    Action("quit", "Quit", "Leave the console (asks first while a session is open)", SESSION, "q"),
]

# The replay's keys (a recorded session: nothing changes the room).
REPLAY: list[Action] = [
    Action("step(-1)", "Step back", "One event back", "Replay", "left", footer=True, narrow=True),
    Action("step(1)", "Step on", "One event on", "Replay", "right", footer=True, narrow=True),
    Action("jump_minute(-1)", "-1 min", "A minute back", "Replay", "left_square_bracket", footer=True),
    Action("jump_minute(1)", "+1 min", "A minute on", "Replay", "right_square_bracket", footer=True),
    Action("jump_time", "Go to time", "Jump to a time into the session", "Replay", "g", footer=True),
    Action("jump_edge(0)", "Start", "The moment before the first event", "Replay", "home", footer=True),
    Action("jump_edge(1)", "End", "After the last event", "Replay", "end", footer=True),
    Action("help", "Help", "Every key, what the roster's columns mean", "Replay", "question_mark", footer=True,
           narrow=True),
    Action("toggle_log", "Log", "Show or hide the event log", "Replay", "L"),
    Action("quit", "Quit", "Leave the replay", "Replay", "q"),
]

BY_NAME = {a.action: a for a in ACTIONS}
# Actions that act on the room: none in a replay
LIVE = {a.action for a in ACTIONS if a.command is not None}
NARROW_FOOTER = {a.action for a in ACTIONS + REPLAY if a.narrow} | {"command_palette"}

# What the roster's columns mean (the help screen's legend).
ROSTER_LEGEND = [
    ("●", "status: ● here, ◌ waiting, ↯ dropped (⚠ past the grace), ← left, ○ absent, ◎ excused, ✕ denied or removed"),
    ("Name", "voice after the name: ♪ talking now (measured), ~ in voice, ⊘ muted by staff"),
    ("Q", "queue: ▶ speaking now, ✋2 second in the queue"),
    ("Talk", "share of the talk time so far"),
    ("Rm", "breakout room: R2 in room 2, (2) planned for room 2"),
    ("Late", "minutes late on arrival"),
    ("↯", "how many times the connection dropped"),
    ("⚑", "open risk flags: ⚑ watch, ⚑! urgent, a number when several"),
    ("In (I)", "location checked in (✓) or not (·); the header is cut to I at 80 columns"),
    ("Spoke, Here", "talk time, and minutes present (wide screens; v shows them anywhere, "
                    "with the speech the media server measured)"),
    ("Location", "where they said they are (wide screens; v shows it anywhere)"),
    ("title", "at 80 columns the roster's title shows the highlighted person's talk time, minutes here "
              "and location"),
]


def may(role: str, a: Action, replay: bool = False) -> bool:
    """Whether this role may use the action: the engine's matrix decides for commands."""
    if replay:
        return a.command is None
    if a.command is None:
        return True
    return allowed(role, a.command)


def role_label(role: str) -> str:
    """A role as a person reads it."""
    return {"cofacilitator": "co-facilitator"}.get(role, role)


def with_article(label: str) -> str:
    return f"{'an' if label[:1] in 'aeiou' else 'a'} {label}"


def key_display(key: str) -> str:
    return {"question_mark": "?", "left": "←", "right": "→", "left_square_bracket": "[",
            "right_square_bracket": "]", "home": "Home", "end": "End", "enter": "Enter"}.get(key, key)


def readme_keys() -> list[str]:
    """The README's key list, one line per key, in the table's order."""
    return [f"- `{key_display(a.key)}` {a.label}: {a.help}" for a in ACTIONS if a.key]
