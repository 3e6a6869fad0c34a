"""Keeps the cyclic garbage collector from stopping a busy server for long.

Why this exists: a server holding thousands of connections keeps hundreds of
thousands of long-lived objects (each websocket brings its tasks, futures,
buffers and protocol state). CPython's collector walks all of them on every
full collection, and under load a full collection comes every second or so:
at 4,800 connections the walks took 100 to 450 ms each, and every event
waiting behind one arrived that much later (the benchmark's p99).

What it does, for a process that runs a server (not for a library user):
- After each full collection, once the young generations are swept too,
  everything still alive is frozen (`gc.freeze`): it is moved out of the
  collector's sight. The next full collection walks only what was created
  since, so its cost follows the recent churn, not the number of people held.
- Frozen objects are still freed by reference counting the moment nothing
  uses them (a delivered event, a finished command). Only garbage in
  reference cycles that was frozen stays until the next thaw: everything is
  unfrozen every `thaw_every` seconds, or once `thaw_after_closed`
  connections have ended since the last thaw (an ended connection is where
  such garbage comes from: the fuzz campaign's 6,000 connections in ten
  minutes left 14 MiB), so the next full collection walks the whole heap
  once and takes it back. That one long pause is the price, paid now and
  then instead of every second.
- After each middle-generation collection (generation 1), what survived it
  (what now sits in the oldest generation) is frozen at once, inside the
  collector's own callback, when the young generations are empty. Without
  this, the first full collection after a crowd joined walked every object
  the crowd brought (95 to 280 ms at 60 to 200 rooms of 12 on the shared
  2-core bench machine, bench/trace.py): one such pause in a 10 s window
  delays more than 1% of the deliveries and so is the p99. With it, full
  collections find next to nothing to walk. The price is the same as above,
  a little sooner: cycles that die after two young passes wait for a thaw.

`session-server serve` installs it unless SESSION_SERVER_GC=default is in its
environment (CPython's own behaviour, for comparisons); the `facilitator`
command installs it for the console's process.
"""
from __future__ import annotations

import asyncio
import gc
import time

# CPython's default. 5,000 was tried: the first full pass after a crowd joined
# then came later and walked all of them at once (377 ms at 4,800 connections).
YOUNG_THRESHOLD = 700
THAW_EVERY_S = 3600.0
THAW_AFTER_CLOSED = 1000        # ended connections between thaws

_current: "PausePolicy | None" = None


def connection_closed() -> None:
    """Called by the gateway as each connection ends; a no-op without a policy."""
    if _current is not None:
        _current.closed += 1


class PausePolicy:
    def __init__(self, loop: asyncio.AbstractEventLoop, thaw_every: float = THAW_EVERY_S,
                 young_threshold: int = YOUNG_THRESHOLD, thaw_after_closed: int = THAW_AFTER_CLOSED,
                 freeze_young: bool = True):
        self.loop = loop
        self.thaw_every = thaw_every
        self.thaw_after_closed = thaw_after_closed
        self.closed = 0             # connections ended since the last thaw
        self.young_threshold = young_threshold
        self._saved_threshold = gc.get_threshold()
        self._freeze_queued = False
        self._thawed_at = time.monotonic()
        self.freezes = 0
        self.young_freezes = 0
        self._thawed = False            # thawed, and the full walk that reclaims old cycles not yet done
        self.freeze_young = freeze_young
        self.thaws = 0

    def install(self) -> "PausePolicy":
        global _current
        _current = self
        _, t1, t2 = gc.get_threshold()
        gc.set_threshold(self.young_threshold, t1, t2)
        gc.callbacks.append(self._on_gc)
        # What start-up built (a restart's rooms, modules, the listening socket) lives
        # as long as the process: out of the collector's sight at once. (No sweep
        # first: it would walk all of it once more, and start-up makes next to no
        # cyclic garbage; what little there is waits for the first thaw.)
        gc.freeze()
        return self

    def uninstall(self) -> None:
        global _current
        if _current is self:
            _current = None
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        gc.set_threshold(*self._saved_threshold)
        gc.unfreeze()

    def _on_gc(self, phase: str, info: dict) -> None:
        # Runs inside the collector, on whichever thread allocated (the record's
        # writer thread too): only queue the work for the event loop.
        if phase != "stop":
            return
        if info["generation"] == 2:
            self._thawed = False       # the thaw's full walk is done: young freezes may resume
        if info["generation"] == 1 and self.freeze_young and not self._thawed:
            # the young generations are empty now: this freezes only what lived
            # through two passes (a list splice, no walk)
            gc.freeze()
            self.young_freezes += 1
            return
        if info["generation"] != 2 or self._freeze_queued:
            return
        self._freeze_queued = True
        try:
            self.loop.call_soon_threadsafe(self._after_full)
        except RuntimeError:      # the loop is closed: the process is ending
            self._freeze_queued = False

    def _after_full(self) -> None:
        self._freeze_queued = False
        if time.monotonic() - self._thawed_at >= self.thaw_every or self.closed >= self.thaw_after_closed:
            # Let the next full collection see everything once, cycles among old objects included.
            gc.unfreeze()
            self._thawed = True
            self._thawed_at = time.monotonic()
            self.closed = 0
            self.thaws += 1
            return
        gc.collect(1)     # the young generations: short-lived cycles should not be frozen
        gc.freeze()
        self.freezes += 1


def install(loop: asyncio.AbstractEventLoop | None = None, **kw) -> PausePolicy:
    """For a server process: see the module's docstring."""
    return PausePolicy(loop or asyncio.get_running_loop(), **kw).install()
