"""Group commit: what the hub has decided reaches the record, then the room, in that order.

Order of work for a command: fire any deadline already due, decide against
the room's decided state, fold the events into it at once (so the next
command sees them), queue the rows for the record. A single committer writes
whatever is queued in one transaction (group commit) and only then folds the
events into the room's *visible* state and hands them to the connections
(server/fanout.py). So the visible state is always exactly the fold of the
record, and nothing reaches anyone before it is durable. A room's snapshot
rides in the same transaction as the events it covers.

A commit that fails takes back what it held (server/outage.py).
"""
from __future__ import annotations

import asyncio

from protocol import events as ev_mod
from server import engine, outbox, snapshots
from server.engine import Actor, Emit, Rejected
from server.health import BACKOFF_FIRST, BACKOFF_MAX, STALLED_AFTER_S, RecordStalled
from server.record import Row
from server.room_host import Batch, Recent, RoomHost, _enc


class GroupCommit:
    """Part of the Hub (server/hub.py), kept apart because it reads as one subject."""

    def _submit(self, host: RoomHost, emits: list[Emit], actor: str | None, cmd_id: str | None,
                now: float, after=None) -> asyncio.Future:
        """Folds the events into the decided state and queues them for the record.
        `after(seq)`, if given, is called once they are recorded and delivered."""
        fut = asyncio.get_running_loop().create_future()
        if not self.health.ok:
            return self._unavailable(fut)
        rows, items = self._fold(host, emits, actor, cmd_id, now)
        self._pending.append(Batch(host, rows, items, fut, after))
        self._wake_commit.set()
        self._reschedule(host)
        return fut

    def _fold(self, host: RoomHost, emits: list[Emit], actor: str | None, cmd_id: str | None,
              now: float) -> tuple[list[Row], list[Recent]]:
        """Folds events into the decided state; returns their rows and their delivery items."""
        rows, items = [], []
        st = host.state
        for x in emits:
            at = x.at if x.at is not None else now
            seq = st.seq + 1
            engine.evolve(st, x.event, at, seq)
            anonymous = isinstance(x.event, ev_mod.BallotCast)
            rows.append(Row(host.id, seq, at, None if anonymous else actor, "event",
                            type(x.event).__struct_config__.tag, x.aud,
                            None if anonymous else cmd_id, _enc.encode(x.event)))
            items.append(Recent(seq, at, x.aud, x.event))
        return rows, items

    def _audit(self, host: RoomHost, actor: Actor, cmd_id: str | None, what: str,
               exc: Rejected, after=None) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if not self.health.ok:
            return self._unavailable(fut)
        body = _enc.encode({"code": exc.code, "message": exc.message})
        row = Row(host.id, None, self.clock.now(), actor.id, "rejected", what, None, cmd_id, body)
        self._pending.append(Batch(host, [row], [], fut, after))
        self._wake_commit.set()
        return fut

    async def _commit_loop(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            if self._pending:
                batches, self._pending = self._pending, []
                await self._commit(batches)
                continue
            if self.health.ok:
                await self._wake_commit.wait()
                self._wake_commit.clear()
                delay = BACKOFF_FIRST
                continue
            # Unhealthy, nothing queued (new writes are refused meanwhile): probe
            # with backoff until a write transaction commits again.
            await asyncio.sleep(delay)
            delay = min(BACKOFF_MAX, delay * 2)
            try:
                await asyncio.get_running_loop().run_in_executor(self._writer, self.record.probe)
            except Exception as exc:    # noqa: BLE001 - still unwritable: the next probe will tell
                self.health.down(exc)
                continue
            self._recovered()

    async def _commit(self, batches: list[Batch]) -> None:
        loop = asyncio.get_running_loop()
        self._inflight = batches
        try:
            rows = [r for b in batches for r in b.rows]
            snap_before = {id(b.host): b.host.snap_seq for b in batches}
            snaps = self._snapshots_due(batches)
            # a write that neither commits nor fails (a stalled disk, a database holding
            # the commit): after STALLED_AFTER_S new commands are refused at once and
            # staff are told, while this one is still waited for and settled as it ends
            stalled = loop.call_later(STALLED_AFTER_S, self._stalled)
            try:
                await loop.run_in_executor(self._writer, self.record.append, rows, snaps)
            except Exception as exc:    # noqa: BLE001 - any failure to write is handled the same way
                for b in batches:
                    b.host.snap_seq = snap_before.get(id(b.host), b.host.snap_seq)
                self._failed(batches, exc)
                return
            finally:
                stalled.cancel()
            self.commits += 1
            # Room by room, each room's connections written as soon as its part is
            # delivered: the first rooms' people are reading while the fan-out goes on
            # to the others (a burst of every room at once: round 7 of docs/performance.md).
            # A room's batches keep their order; rooms are independent of each other.
            by_room: dict[int, list[Batch]] = {}
            for b in batches:
                by_room.setdefault(id(b.host), []).append(b)
            # Each command's answer is queued right behind its events, so it shares
            # their write (hub.start_command's `after`).
            for room_batches in by_room.values():
                for b in room_batches:
                    self._deliver(b.host, b.items)
                    if b.after is not None:
                        b.after(b.items[-1].seq if b.items else b.host.visible.seq)
                outbox.flush()
            for b in batches:
                if not b.future.done():
                    b.future.set_result(b.items[-1].seq if b.items else b.host.visible.seq)
        finally:
            self._inflight = []
        if self.health.up():
            self._recovered()

    def _stalled(self) -> None:
        if self.health.down(RecordStalled(STALLED_AFTER_S)):
            self._tell_staff()

    def _snapshots_due(self, batches: list[Batch]) -> list[tuple]:
        """Snapshots to write with this commit. Every pending event is in it, so a
        room's decided state is exactly the fold of its log up to this commit."""
        out = []
        for b in batches:
            host = b.host
            if b.items and host.state.seq - host.snap_seq >= snapshots.EVERY and host.id in self.rooms:
                out.append(self.sealer.seal(host.id, host.state))
                host.snap_seq = host.state.seq
        return out

    async def flush(self) -> None:
        """Waits until everything queued so far is durable and delivered."""
        while self._pending or self._inflight:
            fut = (self._pending or self._inflight)[-1].future
            try:
                await asyncio.shield(fut)
            except Exception:    # noqa: BLE001 - failed writes are settled too; their callers were told
                pass
