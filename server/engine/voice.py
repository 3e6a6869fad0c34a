"""Voice: who may be heard where. The media server carries the sound; the rules live here.

`voice_room` says which media room a person belongs in now (the main room, or
their breakout room while breakouts are open), and `mic_open` whether they may
be heard there: not under a facilitator's mute, and, while the floor is held,
only the current speaker and staff. The media layer (server/media) applies
exactly these two functions after every event, so the rules cannot differ
between what the record says and what people hear.
"""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.state import RoomState
from server.engine.base import STAFF_ROLES, Ctx, Emit, Rejected, participant
from server.engine.hearing import breakout_aud


def voice_room(s: RoomState, person: str) -> int | None:
    """0 for the main room, n for breakout room n, None if they may not be in voice now."""
    m = s.members.get(person)
    if m is None or s.phase != "open":
        return None
    if m.role in STAFF_ROLES:
        return 0
    if m.status != "present":
        return None
    if s.breakouts == "open" and m.breakout:
        return m.breakout
    return 0


def mic_open(s: RoomState, person: str) -> bool:
    m = s.members.get(person)
    if m is None:
        return False
    if m.role in STAFF_ROLES:
        return s.in_voice.get(person, 0) >= 0      # staff listening in are not heard
    if person in s.muted:
        return False
    if s.floor_held and s.breakouts != "open":
        return s.speaker == person
    return True


def join(s: RoomState, cmd: c.VoiceJoin, ctx: Ctx) -> list[Emit]:
    me = ctx.actor.id
    if cmd.listen is not None:
        if ctx.actor.role not in STAFF_ROLES:
            raise Rejected("forbidden", "only staff listen in to a breakout room")
        if s.breakouts != "open" or cmd.listen > len(s.rooms):
            raise Rejected("not_found", f"there is no open breakout room {cmd.listen}")
        # the room's members are told someone is listening, as with the console's listen-in
        return [Emit(breakout_aud(s.round, cmd.listen), e.VoiceJoined(person=me, room=cmd.listen, listening=True))]
    room = voice_room(s, me)
    if room is None:
        raise Rejected("conflict", "you are not in the room")
    return [Emit("staff", e.VoiceJoined(person=me, room=room))]


def leave(s: RoomState, cmd: c.VoiceLeave, ctx: Ctx) -> list[Emit]:
    who = cmd.person if ctx.actor.role == "system" and cmd.person else ctx.actor.id
    if who not in s.in_voice:
        raise Rejected("conflict", "not in voice")
    return [Emit("staff", e.VoiceLeft(person=who))]


def mute(s: RoomState, cmd: c.MuteMic, ctx: Ctx) -> list[Emit]:
    m = participant(s, cmd.target)
    if m.id in s.muted:
        raise Rejected("conflict", f"{m.name} is already muted")
    return [Emit(f"p:{m.id}", e.MicMuted(person=m.id, by=ctx.actor.id))]


def unmute(s: RoomState, cmd: c.UnmuteMic, ctx: Ctx) -> list[Emit]:
    m = participant(s, cmd.target)
    if m.id not in s.muted:
        raise Rejected("conflict", f"{m.name} is not muted")
    return [Emit(f"p:{m.id}", e.MicUnmuted(person=m.id, by=ctx.actor.id))]


def hold_floor(s: RoomState, cmd: c.HoldFloor, ctx: Ctx) -> list[Emit]:
    if cmd.on == s.floor_held:
        raise Rejected("conflict", "the floor is already held" if cmd.on else "the floor is already open")
    return [Emit("all", e.FloorHeld(on=cmd.on, by=ctx.actor.id))]


def activity(s: RoomState, cmd: c.VoiceActivity, ctx: Ctx) -> list[Emit]:
    m = s.members.get(cmd.person)
    if m is None or cmd.person not in s.in_voice:
        raise Rejected("not_found", "that person is not in voice")
    if (m.talking_since is not None) == cmd.talking:
        raise Rejected("conflict", "no change")
    return [Emit("staff", e.VoiceTalking(person=cmd.person, talking=cmd.talking))]


def _joined(s: RoomState, ev: e.VoiceJoined, at: float) -> None:
    s.in_voice[ev.person] = -ev.room if ev.listening else ev.room


def _left(s: RoomState, ev: e.VoiceLeft, at: float) -> None:
    s.in_voice.pop(ev.person, None)
    _stop_talking(s, ev.person, at)


def _stop_talking(s: RoomState, person: str, at: float) -> None:
    m = s.members.get(person)
    if m is not None and m.talking_since is not None:
        m.voice_talk += max(0.0, at - m.talking_since)
        m.talking_since = None


def _muted(s: RoomState, ev: e.MicMuted, at: float) -> None:
    if ev.person not in s.muted:
        s.muted.append(ev.person)


def _unmuted(s: RoomState, ev: e.MicUnmuted, at: float) -> None:
    if ev.person in s.muted:
        s.muted.remove(ev.person)


def _floor(s: RoomState, ev: e.FloorHeld, at: float) -> None:
    s.floor_held = ev.on


def _talking(s: RoomState, ev: e.VoiceTalking, at: float) -> None:
    m = s.members.get(ev.person)
    if m is None:
        return
    if ev.talking:
        m.talking_since = at
    else:
        _stop_talking(s, ev.person, at)


DECIDERS = {c.VoiceJoin: join, c.VoiceLeave: leave, c.MuteMic: mute, c.UnmuteMic: unmute,
            c.HoldFloor: hold_floor, c.VoiceActivity: activity}
EVOLVERS = {e.VoiceJoined: _joined, e.VoiceLeft: _left, e.MicMuted: _muted, e.MicUnmuted: _unmuted,
            e.FloorHeld: _floor, e.VoiceTalking: _talking}
