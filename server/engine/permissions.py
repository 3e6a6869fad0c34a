"""Who may ask for what: the one place the role x command matrix lives.

F facilitator, C cofacilitator, O observer, P participant. `system` is the
server itself (configuring a room from a scenario or a room file).
Finer rules (only the speaker may end their own turn, only facilitators write
to one person) are checked by the command's handler, after this gate.
"""
from __future__ import annotations

from protocol.roles import LEADS

F, C, O, P = "facilitator", "cofacilitator", "observer", "participant"
LEAD = frozenset(LEADS)

MATRIX: dict[str, frozenset[str]] = {
    "configure": frozenset({F}),
    "open": LEAD,
    "close": frozenset({F}),
    "accept_agreement": frozenset({P}),
    "check_in": frozenset({P}),
    "admit": LEAD, "deny": LEAD, "remove": LEAD, "excuse": LEAD,
    "leave": frozenset({F, C, O, P}),
    "raise_hand": frozenset({P}),
    "lower_hand": frozenset({P, F, C}),
    "next_speaker": LEAD, "call_on": LEAD,
    "end_turn": frozenset({F, C, P}),
    "move_in_queue": LEAD, "queue_mode": LEAD, "go_around": LEAD,
    "pass": frozenset({P}),
    "breakouts_plan": LEAD, "breakouts_move": LEAD, "breakouts_open": LEAD,
    "breakouts_broadcast": LEAD, "breakouts_close": LEAD, "listen_in": LEAD, "breakouts_rule": LEAD,
    "help_request": frozenset({P}), "help_ack": LEAD,
    "poll_create": LEAD, "poll_open": LEAD, "poll_close": LEAD, "poll_share": LEAD,
    "vote": frozenset({P}),
    "timer_start": LEAD, "timer_pause": LEAD, "timer_resume": LEAD,
    "timer_cancel": LEAD, "timer_extend": LEAD, "agenda_next": LEAD,
    "chat": frozenset({F, C, P}),
    "note": LEAD, "flag": LEAD,
    "go_around_stop": LEAD, "agenda_goto": LEAD, "flag_clear": LEAD,
    "voice_join": frozenset({F, C, O, P}), "voice_leave": frozenset({F, C, O, P}),
    "mute": LEAD, "unmute": LEAD, "hold_floor": LEAD,
    "survey_open": LEAD, "survey_close": LEAD, "survey_answer": frozenset({P}),
}

# Programs (protocol/programs.py): not room commands, but judged by role the same way. Changing
# a program is configuring its rooms: the facilitator's alone, as is issuing everyone's links
# (they hold staff tokens). Participants and observers are told nothing of programs.
PROGRAMS: dict[str, frozenset[str]] = {
    "program_read": LEAD, "program_change": frozenset({F}), "program_links": frozenset({F}),
}

# What the server itself may ask: setting a room up, and what the media server measured.
SYSTEM_COMMANDS = frozenset({"configure", "voice_activity", "voice_leave"})

# Before the session opens, staff may prepare; nothing that needs a group runs.
BEFORE_OPEN = frozenset({
    "configure", "open", "poll_create", "note", "flag", "flag_clear", "chat", "excuse", "leave", "timer_start",
    "timer_pause", "timer_resume", "timer_cancel", "timer_extend",
})

# What a participant may do from the waiting room, before admission.
# help_request: someone at the door may be the one who needs a facilitator most
WHILE_WAITING = frozenset({"accept_agreement", "check_in", "leave", "help_request"})


def allowed(role: str, command: str) -> bool:
    if role == "system":
        return command in SYSTEM_COMMANDS
    return role in MATRIX.get(command, PROGRAMS.get(command, ()))
