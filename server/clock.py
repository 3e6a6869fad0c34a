"""The server's clock, injected: real time in service, virtual time in replays.

The real clock never steps. It reads the wall clock once, when the server
starts, and from then on adds the monotonic clock's progress to it. A step of
the system clock (NTP correcting an hour, a VM resumed with a stale clock, an
operator's `date -s`) then moves nothing in the server: attendance, talk
time, timers and drop deadlines are all differences of this clock, and a
wall-clock step would have credited an hour of presence in four seconds, or
made presence negative and deadlines fire an hour late.

The price: the server's time is the wall time of its start plus what has
elapsed, so a wall clock that was wrong at the start stays wrong until the
next start, and a correction made while running is not followed (`skew`
says by how much the two have parted; a restart takes the wall clock again,
never going back before what the record already holds, see `not_before`).
"""
from __future__ import annotations

import time


class RealClock:
    """Wall time at the start plus monotonic time since. `wall` and `mono` are
    the sources (injectable, so tests can step one and not the other)."""
    virtual = False

    def __init__(self, wall=None, mono=None):
        # looked up at each call, not bound here: what the system's clock says now
        self._wall = wall or (lambda: time.time())
        self._mono = mono or (lambda: time.monotonic())
        self._base = self._wall() - self._mono()

    def now(self) -> float:
        return self._base + self._mono()

    def skew(self) -> float:
        """How far the system's wall clock now is from the server's (positive: ahead)."""
        return self._wall() - self.now()

    def not_before(self, t: float) -> None:
        """Never earlier than `t` (the newest instant in the record): a start after the wall
        clock was stepped back must not date new events before old ones."""
        if self.now() < t:
            self._base += t - self.now()


class VirtualClock:
    """Time that moves only when the runner advances it (see `Hub.advance_to`)."""
    virtual = True

    def __init__(self, start: float):
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def not_before(self, t: float) -> None:
        # a replay's time is its script's: the runner sets it, nothing else may
        pass
