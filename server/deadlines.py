"""Deadlines that fire by themselves (timers, turns, breakouts, drop grace): one heap for
the whole server, a room's next deadline in it, fired in order, on real or virtual time."""
from __future__ import annotations

import asyncio
import heapq

from server import engine
from server.room_host import RoomHost


class Deadlines:
    """Part of the Hub (server/hub.py), kept apart because it reads as one subject."""

    def _reschedule(self, host: RoomHost) -> None:
        """Keeps the room's next deadline in the heap; wakes the timer only if sooner."""
        d = engine.due(host.state)
        if self._due.get(host.id) == d:
            return
        if d is None:
            self._due.pop(host.id, None)
            return
        self._due[host.id] = d
        heapq.heappush(self._heap, (d, host.id))
        if len(self._heap) > 4 * len(self._due) + 1024:
            # superseded entries leave only when they reach the top: rebuild before they
            # outnumber the live ones (rooms that come and go leave theirs behind)
            self._heap = [(t, r) for r, t in self._due.items()]
            heapq.heapify(self._heap)
        if self._wake_timer is not None and (self._target is None or d < self._target):
            self._wake_timer.set()

    def _pop_due(self, until: float) -> RoomHost | None:
        """The room with the earliest live deadline at or before `until`, if any."""
        heap = self._heap
        while heap:
            d, room = heap[0]
            if self._due.get(room) != d:
                heapq.heappop(heap)          # superseded
                continue
            if d > until:
                return None
            heapq.heappop(heap)
            del self._due[room]
            return self.rooms[room]
        return None

    def fire_due(self, host: RoomHost) -> None:
        if not self.health.ok:
            return      # held back: they fire at their own instants once writing resumes
        now = self.clock.now()
        for _ in range(10_000):
            at = engine.due(host.state)
            if at is None or at > now:
                break
            emits = engine.expire(host.state)
            if not emits:
                break
            self._submit(host, emits, None, None, at)
        self._reschedule(host)

    async def advance_to(self, t: float) -> None:
        """Virtual time: fires every deadline up to t, in order across rooms."""
        while True:
            host = self._pop_due(t)
            if host is None:
                break
            d = engine.due(host.state)
            if d is not None:
                self.clock.t = max(self.clock.t, d)
            self.fire_due(host)
            await self.flush()
        self.clock.t = max(self.clock.t, t)

    async def _timer_loop(self) -> None:
        while True:
            if not self.health.ok:
                await self._wake_timer.wait()     # set again on recovery
                self._wake_timer.clear()
                continue
            while (host := self._pop_due(self.clock.now())) is not None:
                self.fire_due(host)
            self._target = None
            while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
                heapq.heappop(self._heap)
            if self._heap:
                self._target = self._heap[0][0]
            timeout = None if self._target is None else max(0.0, self._target - self.clock.now())
            try:
                await asyncio.wait_for(self._wake_timer.wait(), timeout)
            except TimeoutError:
                pass
            self._wake_timer.clear()
