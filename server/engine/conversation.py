"""Chat, private notes and risk flags."""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.state import Alert, ChatLine, FlagMark, NoteEntry, RoomState
from server.engine.base import LEADS, Ctx, Emit, Rejected, member_aud, participant

CHAT_KEPT = 200   # lines a snapshot carries; the record keeps all of them


def chat(state: RoomState, cmd: c.Chat, ctx: Ctx) -> list[Emit]:
    me = state.members.get(ctx.actor.id)
    name = me.name if me is not None else ctx.actor.name
    room = 0
    if cmd.to == "all":
        aud = "all"
        if me is not None and me.role == "participant":
            aud = member_aud(me, state)
            room = me.breakout if aud != "all" else 0
    elif cmd.to == "facilitators":
        # the sender's own channel: they and the staff see it
        aud = f"p:{ctx.actor.id}" if ctx.actor.role == "participant" else "staff"
    else:
        if ctx.actor.role not in LEADS:
            raise Rejected("forbidden", "only facilitators write to one person")
        participant(state, cmd.to)
        aud = f"p:{cmd.to}"
    return [Emit(aud, e.ChatPosted(by=ctx.actor.id, name=name, to=cmd.to, text=cmd.text, room=room or 0,
                                    round=state.round if room else 0))]


def note(state: RoomState, cmd: c.Note, ctx: Ctx) -> list[Emit]:
    participant(state, cmd.target)
    return [Emit("staff", e.NoteAdded(by=ctx.actor.id, target=cmd.target, text=cmd.text))]


def flag(state: RoomState, cmd: c.Flag, ctx: Ctx) -> list[Emit]:
    participant(state, cmd.target)
    return [Emit("staff", e.Flagged(by=ctx.actor.id, target=cmd.target, level=cmd.level, reason=cmd.reason))]


def flag_clear(state: RoomState, cmd: c.FlagClear, ctx: Ctx) -> list[Emit]:
    m = participant(state, cmd.target)
    if not any(f.cleared_at is None for f in m.flags):
        raise Rejected("conflict", f"{m.name} has no open flag")
    return [Emit("staff", e.FlagCleared(by=ctx.actor.id, target=cmd.target, reason=cmd.reason))]


DECIDERS = {c.Chat: chat, c.Note: note, c.Flag: flag, c.FlagClear: flag_clear}


def _chat(s: RoomState, ev: e.ChatPosted, at: float) -> None:
    # a line of a breakout room from before rounds had numbers belongs to the round open then
    round_ = ev.round or (s.round if ev.room else 0)
    s.chat.append(ChatLine(by=ev.by, name=ev.name, to=ev.to, text=ev.text, room=ev.room, at=at,
                           round=round_, seq=s.seq))
    if len(s.chat) > CHAT_KEPT:
        del s.chat[: len(s.chat) - CHAT_KEPT]


def broadcast_line(s: RoomState, ev: e.BreakoutsBroadcast, at: float) -> None:
    # staff see what every room was told in their chat; `to="rooms"` keeps it out of a
    # participant's snapshot, as their own fold shows it apart from the chat
    m = s.members.get(ev.by)
    _chat(s, e.ChatPosted(by=ev.by, name=m.name if m is not None else "", to="rooms", text=ev.text), at)


def _note(s: RoomState, ev: e.NoteAdded, at: float) -> None:
    s.notes.append(NoteEntry(target=ev.target, text=ev.text, by=ev.by, at=at))


def _flag(s: RoomState, ev: e.Flagged, at: float) -> None:
    s.members[ev.target].flags.append(FlagMark(level=ev.level, reason=ev.reason, by=ev.by, at=at))
    s.alerts.append(Alert(kind="flag", person=ev.target, text=f"{ev.level}: {ev.reason}", at=at))


def _flag_cleared(s: RoomState, ev: e.FlagCleared, at: float) -> None:
    for f in s.members[ev.target].flags:
        if f.cleared_at is None:
            f.cleared_at, f.cleared_by = at, ev.by
    # the feed's flag alerts about this person are dealt with too
    s.alerts = [a for a in s.alerts if not (a.kind == "flag" and a.person == ev.target)]


EVOLVERS = {e.ChatPosted: _chat, e.NoteAdded: _note, e.Flagged: _flag, e.FlagCleared: _flag_cleared}
