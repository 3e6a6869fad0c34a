"""What the access campaign holds the server to, written down apart from the code under test.

The role table is SCENARIOS.md's, copied by hand: the campaign and the gateway's role
test (tests/test_gateway.py) compare the server with it, never the server's own
matrix (`server.engine.permissions`) with itself. The names and texts are distinctive,
so that finding one in a log or a participant's stream cannot be a coincidence.
"""
from __future__ import annotations

from protocol import commands as c

F, C, O, P = "facilitator", "cofacilitator", "observer", "participant"
ROLES = (F, C, O, P)
LEAD = {F, C}

# The role table of SCENARIOS.md. A command it does not list is no role's (voice_activity: the
# media server's own).
SPEC = {
    "open": LEAD, "close": {F}, "accept_agreement": {P}, "check_in": {P}, "admit": LEAD, "deny": LEAD,
    "remove": LEAD, "excuse": LEAD, "leave": {F, C, O, P}, "raise_hand": {P}, "lower_hand": {P, F, C},
    "next_speaker": LEAD, "call_on": LEAD, "end_turn": {F, C, P}, "move_in_queue": LEAD,
    "queue_mode": LEAD, "go_around": LEAD, "pass": {P}, "breakouts_plan": LEAD, "breakouts_move": LEAD,
    "breakouts_open": LEAD, "breakouts_broadcast": LEAD, "breakouts_close": LEAD, "help_request": {P},
    "breakouts_rule": LEAD,     # a project addition (issue 14): rules set from the console
    "poll_create": LEAD, "poll_open": LEAD, "poll_close": LEAD, "poll_share": LEAD, "vote": {P},
    "timer_start": LEAD, "timer_pause": LEAD, "timer_resume": LEAD, "timer_cancel": LEAD,
    "timer_extend": LEAD, "agenda_next": LEAD, "chat": {F, C, P}, "note": LEAD, "flag": LEAD,
    "go_around_stop": LEAD, "agenda_goto": LEAD, "flag_clear": LEAD,
    # project additions, as docs/protocol.md's command table gives them
    "configure": {F}, "listen_in": LEAD, "help_ack": LEAD,
    # voice: everyone joins and leaves it; only the leads hold a mute or the floor
    "voice_join": {F, C, O, P}, "voice_leave": {F, C, O, P}, "mute": LEAD, "unmute": LEAD, "hold_floor": LEAD,
    # the satisfaction survey: the leads ask and close it, participants answer
    "survey_open": LEAD, "survey_close": LEAD, "survey_answer": {P},
}

# Distinctive words, so that finding one in a log cannot be a coincidence.
NAMES = {"f": "Zephyrine Quillfeather", "c": "Bartholomew Ostrander", "o": "Philippa Wrenhaven",
         "p": "Isidora Blackwood", "q": "Cornelius Ashgrove", "victim": "Evangeline Thistlewood"}
SECRET_TEXTS = ["NOTE-ultramarine-kestrel", "CHAT-saffron-heron", "LOCATION-42 Juniper Terrace",
                "REASON-vermilion-otter", "HELP-cerulean-lynx", "FLAG-ochre-falcon", "SURVEY-indigo-marten"]


def sample(name: str, who: str) -> c.Command:
    """A well-formed instance of each command."""
    args = {
        "configure": dict(title="again"), "check_in": dict(location=SECRET_TEXTS[2]),
        "admit": dict(target="victim"), "deny": dict(target="victim"),
        "remove": dict(target="victim", reason=SECRET_TEXTS[3]), "excuse": dict(target="victim", reason="ill"),
        "lower_hand": dict(target="p1") if who != P else {}, "call_on": dict(target="p1"),
        "move_in_queue": dict(target="p1", position=1), "queue_mode": dict(mode="fair"),
        "go_around": dict(seconds=60), "breakouts_plan": dict(rooms=1), "breakouts_move": dict(target="p1", room=1),
        "breakouts_open": dict(minutes=5), "breakouts_broadcast": dict(text="pods: two minutes"),
        "listen_in": dict(room=0), "breakouts_rule": dict(kind="apart", target="p1", other="victim"),
        "help_request": dict(text=SECRET_TEXTS[4]), "help_ack": dict(help_id=1),
        "poll_create": dict(id=f"poll-{who}", question="Mood?", kind="scale"),
        "poll_open": dict(id="poll-main"), "poll_close": dict(id="poll-main"), "poll_share": dict(id="poll-main"),
        "vote": dict(id="poll-main", value=5), "timer_start": dict(id=f"t-{who}", seconds=60),
        "timer_pause": dict(id="t-main"), "timer_resume": dict(id="t-main"), "timer_cancel": dict(id="t-main"),
        "timer_extend": dict(id="t-main", seconds=30), "chat": dict(text=SECRET_TEXTS[1]),
        "note": dict(target="p1", text=SECRET_TEXTS[0]), "flag": dict(target="p1", level="watch", reason=SECRET_TEXTS[5]),
        "agenda_goto": dict(index=0), "flag_clear": dict(target="p1"),
        "mute": dict(target="p1"), "unmute": dict(target="p1"), "hold_floor": dict(on=True),
        "voice_activity": dict(person="p1", talking=True),      # the media server's own: nobody's here
        "survey_answer": dict(ratings=[3, 4, 5], comment=SECRET_TEXTS[6]),
    }.get(name, {})
    return c.COMMAND_TYPES[name](**args)


def order(names: list[str]) -> list[str]:
    last = ["remove", "deny", "close", "leave"]
    return [n for n in names if n not in last] + [n for n in last if n in names]
