"""Who could hear what, and when: the history that audiences are judged by.

An event reaches a participant if they could receive it *when it was
recorded*: live, on a resume that replays it, and in the chat of a fresh
view. Judging by where the person is now would be wrong twice over: breakout
room numbers come round again in the next round, and a late joiner was not
in the room for what happened before they came.

So the fold keeps, per participant, two short histories in seq numbers:

- `inside`: the spans in which they were in the room, `[after, through]`,
  from the event that let them in (`admitted`, or `returned` after leaving)
  to the one that took them out (`left`, `removed`, `session_closed`, or
  back to the waiting room). A drop does not end a span: a resume after a
  drop gives what was missed, as promised. The person does not hear the
  event that lets them in (they were not in yet; a fresh view follows it)
  and does hear the one that takes them out (their own `left`).
- `stays`: the breakout rooms they were in, `[round, room, after, through]`,
  from the opening (or a move) to a move or the close.

`through` is 0 while the span or stay is still open. An event at seq `s`
falls in `[after, through]` when `after < s <= through`. Both lists grow by
a few entries per person per session.
"""
from __future__ import annotations

from protocol.state import Member
from server.engine.base import STAFF_ROLES


def enter(m: Member, seq: int) -> None:
    if not m.inside or m.inside[-1][1] != 0:
        m.inside.append([seq, 0])


def leave(m: Member, seq: int) -> None:
    if m.inside and m.inside[-1][1] == 0:
        m.inside[-1][1] = seq
    end_stay(m, seq)


def stay(m: Member, round_: int, room: int, seq: int) -> None:
    end_stay(m, seq)
    m.stays.append([round_, room, seq, 0])


def end_stay(m: Member, seq: int) -> None:
    if m.stays and m.stays[-1][3] == 0:
        m.stays[-1][3] = seq


def inside_at(m: Member, seq: int) -> bool:
    # newest first: live delivery and recent resumes are answered by the open span at once
    for a, t in reversed(m.inside):
        if a < seq and (t == 0 or seq <= t):
            return True
        if a < seq:
            return False      # spans do not overlap: an older one ends before this one began
    return False


def room_at(m: Member, seq: int) -> tuple[int, int] | None:
    """(round, room) of the breakout room the person was in at `seq`, if any."""
    for r, room, a, t in reversed(m.stays):
        if a < seq:
            return (r, room) if t == 0 or seq <= t else None
    return None


def breakout_aud(round_: int, room: int | str) -> str:
    """`b:<round>:<room>`; room `*` is every room of that round."""
    return f"b:{round_}:{room}"


def hears(aud: str, seq: int, person: str, role: str, m: Member | None) -> bool:
    """Whether `person` could receive the event at `seq` addressed to `aud`.

    `m` is the person as the fold knows them now: their histories answer for
    any earlier seq, and, live, the open span answers for the event at hand.
    Audiences: `staff`; `p:<id>`; `all`; `b:<round>:<room>` and `b:<round>:*`;
    and `b:<room>` from records made before rounds had numbers, judged by the
    room the person was in at that seq, which is the same thing."""
    if role in STAFF_ROLES:
        return True
    if aud == "staff":
        return False
    if aud.startswith("p:"):
        return aud[2:] == person
    if m is None or not inside_at(m, seq):
        return False          # the waiting room, and the time before or between visits, hear nothing
    if aud == "all":
        return True
    if aud.startswith("b:"):
        where = room_at(m, seq)
        if where is None:
            return False
        parts = aud[2:].split(":")
        if len(parts) == 1:
            return parts[0] == str(where[1])
        return parts[0] == str(where[0]) and parts[1] in ("*", str(where[1]))
    return False


def entered_at(m: Member | None) -> int | None:
    """The seq of the event that let the person into the room this time, while inside."""
    if m is None or not m.inside or m.inside[-1][1] != 0:
        return None
    return m.inside[-1][0]
