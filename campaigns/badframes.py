"""Seeded generators of bad (and valid-but-wrong) client frames.

Every generator returns (kind, data, garbage) where `data` is bytes (a binary
frame) or str (a text frame) and `garbage` says whether the frame cannot be
decoded into a client frame at all (so it counts toward the server's limit
of consecutive malformed frames).
"""
from __future__ import annotations

import json
import random

import msgspec

from protocol.commands import COMMAND_TYPES

mp = msgspec.msgpack.encode


def _js(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _frame(rng: random.Random, obj, binary: bool | None = None):
    binary = rng.random() < 0.5 if binary is None else binary
    return mp(obj) if binary else _js(obj)


def truncated(rng):
    obj = {"t": "cmd", "id": f"fz-{rng.randrange(10**6)}",
           "cmd": {"do": "chat", "text": "x" * rng.randint(1, 300), "to": "all"}}
    data = _frame(rng, obj)
    cut = rng.randrange(1, len(data))
    return "truncated", data[:cut], True


def random_bytes(rng):
    n = rng.choice([1, 2, 5, 17, 100, 1000, 8000])
    return "random_bytes", rng.randbytes(n), True


def random_text(rng):
    n = rng.choice([1, 3, 20, 200, 3000])
    alphabet = '{}[]":,0123456789abcdefxyz tnul\\'
    return "random_text", "".join(rng.choice(alphabet) for _ in range(n)), True


def wrong_types(rng):
    cid = f"fz-{rng.randrange(10**6)}"
    options = [
        {"t": "cmd", "id": 12345, "cmd": {"do": "raise_hand"}},
        {"t": "cmd", "id": cid, "cmd": {"do": "timer_start", "id": "t", "seconds": "ten"}},
        {"t": "cmd", "id": cid, "cmd": {"do": "vote", "id": ["p"], "value": "high"}},
        {"t": "cmd", "id": cid, "cmd": {"do": "chat", "text": 42}},
        {"t": "cmd", "id": cid, "cmd": {"do": "move_in_queue", "target": "p1", "position": -3}},
        {"t": "cmd", "id": cid, "cmd": {"do": "breakouts_open", "minutes": "soon"}},
        {"t": "cmd", "id": cid, "cmd": {"do": "raise_hand", "extra": True}},
        {"t": "cmd", "id": cid, "cmd": "raise_hand"},
        {"t": "cmd", "id": cid},
        {"t": "ping", "id": "one"},
        {"t": 7},
        [1, 2, 3],
        "just a string",
        None,
        3.5,
    ]
    return "wrong_types", _frame(rng, rng.choice(options)), True


def unknown_types(rng):
    cid = f"fz-{rng.randrange(10**6)}"
    options = [
        {"t": "bogus"},
        {"t": "subscribe", "room": "other"},
        {"t": "cmd", "id": cid, "cmd": {"do": "explode"}},
        {"t": "cmd", "id": cid, "cmd": {"do": "promote", "target": "p1", "role": "facilitator"}},
        {"t": "cmd", "id": cid, "cmd": {"do": "configure_server", "debug": True}},
        {"type": "cmd", "id": cid, "cmd": {"do": "raise_hand"}},
    ]
    return "unknown_types", _frame(rng, rng.choice(options)), True


def huge(rng):
    """Big but under 64 KiB: long strings, long arrays, many keys."""
    cid = f"fz-{rng.randrange(10**6)}"
    k = rng.randrange(5)
    if k == 0:
        obj = {"t": "cmd", "id": cid, "cmd": {"do": "chat", "text": "A" * rng.randint(2001, 60000)}}
    elif k == 1:
        obj = {"t": "cmd", "id": cid, "cmd": {"do": "go_around", "seconds": 5,
                                             "order": [f"p{i}" for i in range(rng.randint(1000, 6000))]}}
    elif k == 2:
        obj = {"t": "cmd", "id": "X" * rng.randint(200, 60000), "cmd": {"do": "raise_hand"}}
    elif k == 3:
        obj = {"t": "cmd", "id": cid, "cmd": {"do": "note", "target": "p1", "text": "n" * 60000}}
    else:
        obj = {"t": "cmd", "id": cid, "cmd": {"do": "raise_hand", **{f"k{i}": i for i in range(3000)}}}
    return "huge", _frame(rng, obj), True


def deep(rng):
    depth = rng.choice([64, 500, 5000, 20000])
    binary = rng.random() < 0.5
    if binary:
        data = b"\x91" * depth + b"\xc0"            # [[[[...nil...]]]]
        if rng.random() < 0.5:
            data = b"\x81\xa1t" * depth + b"\xc0"   # {"t": {"t": ...}}
    else:
        data = "[" * depth + "]" * depth if rng.random() < 0.5 else '{"t":' * min(depth, 10000) + "null" + "}" * min(depth, 10000)
    return "deep", data, True


def lying_lengths(rng):
    """MessagePack headers that promise far more than the frame holds."""
    options = [
        b"\xdd\xff\xff\xff\xff",                        # array32 of 4 billion
        b"\xdf\xff\xff\xff\xff",                        # map32 of 4 billion
        b"\xdb\xff\xff\xff\xf0abc",                     # str32 of 4 GB
        b"\xc6\x7f\xff\xff\xff\x00",                    # bin32 of 2 GB
        b"\x82\xa1t\xa3cmd\xa2id\xdb\x00\x10\x00\x00",  # id: str of 1 MB, absent
        b"\xc7\xff\x05" + b"\x00" * 10,                 # ext8 with a short body
        b"\xd4\xff\x00",                                 # timestamp ext, bad
    ]
    return "lying_lengths", rng.choice(options), True


def over_limit(rng):
    """Frames over the 64 KiB limit: the server must refuse them (close 1009)."""
    n = rng.choice([64 * 1024 + 1, 100_000, 1_000_000])
    if rng.random() < 0.5:
        return "over_limit", mp({"t": "cmd", "id": "big", "cmd": {"do": "chat", "text": "B" * n}}), True
    return "over_limit", "C" * n, True


def second_hello(rng):
    return "second_hello", _frame(rng, {"t": "hello", "token": "x.y", "protocol": 1}), False


def other_room(rng, targets: list[str]):
    """Well-formed commands naming people, polls and timers of another room."""
    cid = f"fz-{rng.randrange(10**9)}"
    t = rng.choice(targets)
    cmd = rng.choice([
        {"do": "admit", "target": t}, {"do": "remove", "target": t, "reason": "fuzz"},
        {"do": "note", "target": t, "text": "not your room"}, {"do": "call_on", "target": t},
        {"do": "flag", "target": t, "level": "urgent"}, {"do": "vote", "id": "probe-poll", "value": 3},
        {"do": "timer_cancel", "id": "probe-timer"}, {"do": "chat", "text": "hello?", "to": t},
        {"do": "excuse", "target": t}, {"do": "lower_hand", "target": t},
    ])
    return "other_room", _frame(rng, {"t": "cmd", "id": cid, "cmd": cmd}), False


def wrong_state(rng):
    """Well-formed commands that the room does not allow now (or this role never)."""
    cid = f"fz-{rng.randrange(10**9)}"
    names = [n for n in COMMAND_TYPES if n not in ("leave", "close", "configure")]
    name = rng.choice(names)
    samples = {
        "admit": {"target": "nobody"}, "deny": {"target": "nobody"}, "remove": {"target": "nobody"},
        "excuse": {"target": "nobody"}, "call_on": {"target": "nobody"}, "check_in": {"location": "?"},
        "move_in_queue": {"target": "nobody", "position": 1}, "queue_mode": {"mode": "fair"},
        "go_around": {"seconds": 30}, "breakouts_move": {"target": "nobody", "room": 2},
        "breakouts_open": {"minutes": 5}, "breakouts_broadcast": {"text": "hi"},
        "breakouts_plan": {"rooms": 20}, "listen_in": {"room": 9}, "help_ack": {"help_id": 999},
        "poll_create": {"id": "p", "question": "", "kind": "single"}, "poll_open": {"id": "none"},
        "poll_close": {"id": "none"}, "poll_share": {"id": "none"}, "vote": {"id": "none", "value": 1},
        "timer_start": {"id": "t", "seconds": 1}, "timer_pause": {"id": "none"},
        "timer_resume": {"id": "none"}, "timer_cancel": {"id": "none"},
        "timer_extend": {"id": "none", "seconds": 5}, "chat": {"text": "x", "to": "nobody"},
        "note": {"target": "nobody", "text": "x"}, "flag": {"target": "nobody", "level": "watch"},
        "agenda_goto": {"index": 99}, "flag_clear": {"target": "nobody"},
    }
    cmd = {"do": name, **samples.get(name, {})}
    return "wrong_state", _frame(rng, {"t": "cmd", "id": cid, "cmd": cmd}), False


GARBAGE = [truncated, random_bytes, random_text, wrong_types, unknown_types, huge, deep, lying_lengths]
