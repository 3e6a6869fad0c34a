"""How every party writes a length of time: m:ss, or h:mm:ss past an hour, and reads it back. Defined once, here.

Each caller rounds its seconds its own way first (the scenario DSL and a review to the nearest second, the
console down, the participant's countdown up), then calls `hms`. `parse_hms` reads what a person typed (a
scenario's step, a reviewer's `--at`).
"""
from __future__ import annotations

import re


def hms(seconds: int) -> str:
    """Whole seconds as m:ss, or h:mm:ss from an hour up."""
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def parse_hms(text) -> float:
    """m:ss or h:mm:ss to seconds."""
    if not isinstance(text, str) or not re.fullmatch(r"\d+:\d{2}(:\d{2})?", text.strip()):
        raise ValueError(f"time {text!r} is not m:ss or h:mm:ss")
    parts = [int(x) for x in text.strip().split(":")]
    if any(p >= 60 for p in parts[1:]):
        raise ValueError(f"time {text!r} has more than 59 minutes or seconds")
    if len(parts) == 2:
        return parts[0] * 60 + parts[1]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]
