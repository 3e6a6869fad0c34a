"""One token bucket for every rate the server holds someone to.

The gateway gives each connection one for its commands (a burst, then a steady
rate), and the hub one for the refused hellos it writes to the record (anyone
can knock without a usable token, as fast as they can connect). Both are the
same rule, so it lives here once. The clock is injected: a test drives it by
hand, and the server passes `time.monotonic`, because a rate is judged in real
seconds even when a replay runs the room on virtual time.
"""
from __future__ import annotations

import time
from typing import Callable


class TokenBucket:
    """Up to `burst` at once, `rate` a second sustained; a full bucket to start."""

    __slots__ = ("rate", "burst", "tokens", "at", "clock")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.at = clock()

    def take(self) -> bool:
        """Spends one token if there is one; False (and nothing spent) if not."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
