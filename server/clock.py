"""The server's clock, injected: real time in service, virtual time in replays."""
from __future__ import annotations

import time


class RealClock:
    virtual = False

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """Time that moves only when the runner advances it (see `Hub.advance_to`)."""
    virtual = True

    def __init__(self, start: float):
        self.t = float(start)

    def now(self) -> float:
        return self.t
