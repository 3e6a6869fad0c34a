"""How every party writes a length of time: m:ss, or h:mm:ss past an hour. Defined once, here.

Each caller rounds its seconds its own way first (the scenario DSL to the nearest second, the console down,
the participant's countdown up), then calls `hms`.
"""
from __future__ import annotations


def hms(seconds: int) -> str:
    """Whole seconds as m:ss, or h:mm:ss from an hour up."""
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
