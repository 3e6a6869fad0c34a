"""The hub: rooms, group commit, fan-out by audience, deadlines.

Order of work for a command: fire any deadline already due, decide against
the room's decided state, fold the events into it at once (so the next
command sees them), queue the rows for the record. A single committer writes
whatever is queued in one transaction (group commit) and only then folds the
events into the room's *visible* state and hands them to the connections.
So the visible state is always exactly the fold of the record, and nothing
reaches anyone before it is durable.

A commit that fails takes back what it held: its commands (and any decided
behind them in the same rooms) are answered `unavailable`, and those rooms'
decided state goes back to a copy of the visible one, the recorded one. Then
new writes are refused at once while the committer probes the record with
backoff; see server/outage.py, server/health.py and docs/reliability.md.
"""
from __future__ import annotations

import asyncio
import collections
import gc
import heapq
import time
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from protocol import events as ev_mod
from protocol.commands import Command
from protocol.frames import PROTOCOL_VERSION, Ack, Error, EventFrame, Welcome, You, encode
from protocol.state import RoomState
from server import engine, snapshots, stops
from server.health import BACKOFF_FIRST, BACKOFF_MAX, Health, Unavailable
from server.outage import Outages
from server.engine import Actor, Ctx, Emit, Rejected
from server.engine.hearing import entered_at, hears
from server.engine.views import for_participants, participant_view
from server.record import Record, Row  # noqa: F401  (Record: the interface's name)

log = logging.getLogger("session_server.hub")

GATEWAY_ROOM = "~gateway"    # where refusals of unusable tokens are recorded
REFUSALS_PER_S = 20.0        # refused hellos recorded per second, sustained
REFUSALS_BURST = 100.0
RECENT_KEPT = 2000          # events per room kept in memory for resumes
RESULTS_KEPT = 5000         # command ids per room remembered for retries
# After a restart, the ids of each room's last events: a command whose answer
# was lost in the restart is among the room's newest (nothing else was decided
# while the server was down), so its retry finds it here.
IDS_AFTER_RESTART = 200

_event_dec = msgspec.msgpack.Decoder(ev_mod.AnyEvent)
_enc = msgspec.msgpack.Encoder()


class Sink(Protocol):
    """A connection as the hub sees it."""
    person: str
    role: str
    binary: bool

    def send(self, data: bytes | str) -> None: ...
    def close(self, code: int, reason: str) -> None: ...


class Recent(msgspec.Struct, gc=False):
    """A recorded event as the room keeps it for delivery and resume.

    Untracked by the cyclic collector (it can hold no cycle: data and bytes
    only): a room keeps thousands of these, and a server hundreds of rooms.
    Its encodings are made on first send, one per (format, redaction)."""
    seq: int
    at: float
    aud: str
    event: ev_mod.Event | None     # None until needed, for events a snapshot already covers
    bin_full: bytes | None = None
    bin_red: bytes | None = None
    txt_full: str | None = None
    txt_red: str | None = None
    body: bytes | None = None      # the recorded bytes, while `event` is not decoded yet

    def frame(self, binary: bool, redacted: bool) -> bytes | str:
        if binary:
            f = self.bin_red if redacted else self.bin_full
        else:
            f = self.txt_red if redacted else self.txt_full
        if f is None:
            ev = self.event
            if ev is None:
                ev = self.event = _event_dec.decode(self.body)
                self.body = None
            ev = for_participants(ev) if redacted else ev
            f = encode(EventFrame(seq=self.seq, at=self.at, aud=self.aud, ev=ev), binary)
            if binary:
                if redacted:
                    self.bin_red = f
                else:
                    self.bin_full = f
            elif redacted:
                self.txt_red = f
            else:
                self.txt_full = f
        return f


def _as_wire(cmd: Command) -> Command:
    """An in-process command (the console's own setup, scenario files) typed as if it
    had come over the wire: an int where the schema says float becomes a float, and
    the schema's limits are checked. Otherwise its events would hold `10` where the
    record, decoded, holds `10.0`: the live state and the fold of the log would differ."""
    return msgspec.msgpack.decode(_enc.encode(cmd), type=type(cmd))


def _as_retry(result, cmd_id: str):
    if isinstance(result, int):          # remembered from the record at start: an ack's seq
        return Ack(id=cmd_id, seq=result, duplicate=True)
    if isinstance(result, Ack):
        return Ack(id=cmd_id, seq=result.seq, duplicate=True)
    return result


def _remember_refusal(host, actor, cmd, typ, body) -> None:
    info = msgspec.msgpack.decode(body)
    host.results[(actor, cmd)] = Error(id=cmd, code=info.get("code", "invalid"), message=info.get("message", ""))
    host.names[(actor, cmd)] = typ   # a refusal row is named after its command


class RoomHost:
    def __init__(self, room: str):
        self.id = room
        self.state: RoomState = engine.new_room(room)      # decided
        self.visible: RoomState = engine.new_room(room)    # committed and delivered
        self.conns: dict[str, Sink] = {}
        self.recent: collections.deque[Recent] = collections.deque(maxlen=RECENT_KEPT)
        self.results: collections.OrderedDict[tuple[str, str], object] = collections.OrderedDict()
        self.names: dict[tuple[str, str], str] = {}     # which command each remembered id was
        self.snap_seq = 0                                # the seq of the room's newest snapshot
        self.joining = 0                                 # hellos between `room()` and registering
        # who came or went while their arrival or departure could not be recorded:
        # person -> (actor, when); recorded once writing resumes (`Hub._reconcile`)
        self.unrecorded: dict[str, tuple[Actor, float]] = {}

    def remember(self, key, value) -> None:
        self.results[key] = value
        if len(self.results) > RESULTS_KEPT:
            old, _ = self.results.popitem(last=False)
            self.names.pop(old, None)


@dataclass(slots=True)
class Batch:
    host: RoomHost
    rows: list[Row]
    items: list[Recent]
    future: asyncio.Future
    after: object = None     # called once delivered


class Hub(Outages):
    def __init__(self, record: Record, clock, secret: bytes):
        self.record = record
        self.clock = clock
        self.secret = secret
        self.seal_key = msgspec.msgpack.encode(["ballot-seal", secret])
        self.sealer = snapshots.Sealer(secret)
        self.rooms: dict[str, RoomHost] = {}
        self._pending: list[Batch] = []
        self._inflight: list[Batch] = []     # taken by the committer, not yet delivered
        self._due: dict[str, float] = {}      # each room's next deadline
        self._unloaded: set[str] = set()      # closed sessions not read yet
        self._reader: Record | None = None
        self._heap: list[tuple[float, str]] = []
        self._target: float | None = None     # what the timer loop sleeps toward
        self._wake_commit: asyncio.Event | None = None
        self._wake_timer: asyncio.Event | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record")
        self._tasks: list[asyncio.Task] = []
        self.health = Health(clock)
        self.commits = 0
        # Once shutting down, closing sockets are the server's doing, not people
        # dropping: nothing about them goes to the record.
        self.stopping = False
        self._refusal_budget = REFUSALS_BURST
        self._refusal_at = time.monotonic()
        self.refusals_unrecorded = 0
        # a record shared with other servers (PostgreSQL): rooms are taken with leases
        self.shared = bool(getattr(record, "shared", False))
        self.media = None           # server/media.rooms.MediaRooms, when voice is on
        self._spawned: set[asyncio.Task] = set()
        self.leases = None
        self._taking: dict[str, asyncio.Future] = {}

    # --- start and stop -----------------------------------------------------------

    def load(self) -> int:
        """Rebuilds every open room from the record with the same fold; returns events folded.

        A room starts from its snapshot, if it has a valid one, and folds only
        the events after it, so a restart costs what happened since the last
        snapshot, not the whole evening. Older events stay on disk: a console
        resuming from before them reads them from the record (see `join`).
        The ids of the commands behind each room's newest events are
        remembered, so a retry across the restart is answered, not applied
        twice. The committed, visible state is a copy: at rest everything
        decided is recorded."""
        # A bulk build that makes no garbage cycles: the collector would only walk
        # the growing rooms again and again (a third of a 1,000-room restart).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._load_rooms()
        finally:
            if collecting:
                gc.enable()

    def _load_rooms(self) -> int:
        rec = self.record
        self._unloaded = set()
        if self.shared:
            # several servers share this record: a room is folded only by the one
            # that takes its lease, when someone first asks for it (see `take`)
            return 0
        snaps = rec.snapshots()
        # Closed sessions stay on disk until someone opens them (a reviewer, a
        # late console): a clinic's record grows for years, its restart must not.
        self._unloaded = rec.closed_rooms()
        n = 0
        for room, last in rec.open_rooms().items():
            host = self.rooms[room] = RoomHost(room)
            n += self._fold_from_record(rec, host, snaps.get(room), last)
        for room, actor, cmd, typ, body in rec.refusals():
            host = self.rooms.get(room)
            if host is not None:
                _remember_refusal(host, actor, cmd, typ, body)
        self._drops_after_crash()
        for host in self.rooms.values():
            self._ready(host)
        return n

    def _drops_after_crash(self) -> None:
        stops.drops_after_crash(self)

    async def record_stop(self, timeout: float = 3.0) -> None:
        """A graceful stop is a drop for everyone connected (see server/stops.py)."""
        await stops.record_stop(self, timeout)

    def _fold_from_record(self, rec: Record, host: RoomHost, snap, last: int) -> int:
        """Folds a room from its snapshot (if valid) and the events after it;
        remembers the command ids behind its newest events. Returns events folded."""
        state = self.sealer.open(host.id, *snap) if snap is not None else None
        if state is not None and state.seq <= last:
            host.state, host.snap_seq = state, state.seq
        elif snap is not None:
            log.warning("a room snapshot was not used (another fold, or not sealed by this server)")
        recent, st, n = host.recent, host.state, 0
        decode, evolve = _event_dec.decode, engine.evolve
        for seq, at, aud, body in rec.tail(host.id, host.snap_seq):
            event = decode(body)
            evolve(st, event, at, seq)
            recent.append(Recent(seq, at, aud, event))
            n += 1
        results = host.results
        for actor, cmd, seq in rec.command_ids(host.id, max(0, last - IDS_AFTER_RESTART)):
            results[(actor, cmd)] = seq     # an answered id: its ack's position
        return n

    def _ready(self, host: RoomHost) -> None:
        host.visible = engine.copy_state(host.state)
        while len(host.results) > RESULTS_KEPT:
            host.results.popitem(last=False)
        self._reschedule(host)

    # --- rooms shared with other servers (PostgreSQL) --------------------------------

    async def take(self, room: str, wait: bool = False) -> "RoomHost | str":
        """The room, once this server may serve it. With a record of its own that is
        at once. With a shared record it takes the room's lease and folds the
        room from the record; if a live server holds the lease, returns that
        server's address instead (the gateway relays to it), unless `wait`:
        then it waits for the lease to lapse (its holder is gone) and takes it."""
        if not self.shared:
            return self.room(room)
        while True:
            host = self.rooms.get(room)
            if host is not None:
                return host
            pending = self._taking.get(room)
            if pending is None:
                break
            await asyncio.shield(pending)
        done = self._taking[room] = asyncio.get_running_loop().create_future()
        try:
            deadline = time.monotonic() + self.leases.ttl + 2.0
            while True:
                epoch, holder, left = await asyncio.to_thread(self.leases.acquire, room)
                if epoch is not None:
                    break
                if holder is not None and not wait:
                    return holder
                if time.monotonic() > deadline:
                    return holder or ""
                await asyncio.sleep(min(0.25, left + 0.05))
            host = RoomHost(room)
            rec = self.reader()

            def fold() -> None:
                self._fold_from_record(rec, host, rec.snapshot(room), rec.last_seq(room))
                for r, actor, cmd, typ, body in rec.refusals(room):
                    _remember_refusal(host, actor, cmd, typ, body)
            await asyncio.to_thread(fold)
            # whoever the record holds as connected was cut off by the server that died
            # (a graceful stop records its drops itself): their drops, as after a crash
            at = host.state.at
            emits = engine.stop_drops(host.state, at)
            if emits:
                rows, items = self._fold(host, emits, engine.SYSTEM.id, None, at)
                await asyncio.get_running_loop().run_in_executor(self._writer, self.record.append, rows, [])
                host.recent.extend(items)
            self.rooms[room] = host
            self._ready(host)
            log.info("took a room (epoch %d)", epoch)
            return host
        finally:
            self._taking.pop(room, None)
            done.set_result(None)

    async def _keep_leases(self) -> None:
        from server.leases import RENEW_EVERY
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                lost = await asyncio.to_thread(self.leases.renew)
            except Exception as exc:     # noqa: BLE001 - the database is away: the fence keeps writes safe
                log.warning("could not renew room leases: %s", type(exc).__name__)
                continue
            for room in lost:
                self.drop_room(room, "the room moved to another server")

    def drop_room(self, room: str, reason: str) -> None:
        """Stops serving a room whose lease passed to another server; its people
        reconnect and are served by the new owner, resuming by seq."""
        host = self.rooms.pop(room, None)
        if host is None:
            return
        log.warning("lost the lease of a room; its connections are closed to reconnect")
        self._due.pop(room, None)
        for conn in list(host.conns.values()):
            conn.close(1012, reason)
        host.conns.clear()

    async def start(self) -> None:
        self._wake_commit = asyncio.Event()
        self._wake_timer = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._commit_loop(), name="committer"))
        if not self.clock.virtual:
            self._tasks.append(asyncio.create_task(self._timer_loop(), name="deadlines"))
        if self.leases is not None:
            self._tasks.append(asyncio.create_task(self._keep_leases(), name="leases"))

    async def stop(self, timeout: float = 2.0) -> None:
        """Writes what is queued and stops, within `timeout` whatever the record does."""
        try:
            await asyncio.wait_for(self.flush(), timeout)
            stuck = False
        except (asyncio.TimeoutError, TimeoutError):
            # a write that neither commits nor fails: what it held was never
            # acknowledged, so leaving it is safe; waiting for it is not
            log.error("stopped with a write to the record unfinished")
            stuck = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        self._writer.shutdown(wait=not stuck, cancel_futures=True)
        if self.leases is not None:
            try:
                self.leases.release()      # the next server takes our rooms at once, not after the TTL
            except Exception:              # noqa: BLE001 - then they lapse on their own
                pass
            self.leases.close()
        if self._reader is not None and self._reader is not self.record:
            self._reader.close()

    def room(self, room: str) -> RoomHost:
        host = self.rooms.get(room)
        if host is None and self.shared:
            # with a shared record only the lease holder may serve a room (see `take`)
            raise LookupError(f"this server does not hold room {room!r}: take it first")
        if host is None:
            host = self.rooms[room] = RoomHost(room)
            if room in self._unloaded:
                self._unloaded.discard(room)
                self._load_closed(host)
        return host

    def reader(self) -> Record:
        """A read-only connection of the hub's own, for reads on the event loop
        (WAL lets it read beside the writer thread)."""
        if self._reader is None:
            self._reader = self.record.reader()
        return self._reader

    def _load_closed(self, host: RoomHost) -> None:
        """Folds a closed session from the record on first use (after a restart, or after
        it was let go once its last connection had gone: see `_release`).

        The answers to its commands come back with it, from the same rows: a command
        retried after the room was let go (its answer lost with a connection) is answered
        as the duplicate it is, with its ack's seq or its refusal, as it would have been
        had the room stayed in memory. Anonymous ballots carry no id in the record, so a
        retried ballot is decided again, and refused: the session is closed."""
        results, names = host.results, host.names
        st, recent = host.state, host.recent
        for _rid, _room, seq, at, actor, kind, typ, aud, cmd, body in self.reader().rows(host.id):
            if kind == "event":
                event = _event_dec.decode(body)
                engine.evolve(st, event, at, seq)
                recent.append(Recent(seq, at, aud, event))
                if cmd is not None:
                    results[(actor, cmd)] = seq     # the last event of a command is its ack's seq
            elif cmd is not None:
                info = msgspec.msgpack.decode(body)
                results[(actor, cmd)] = Error(id=cmd, code=info.get("code", "invalid"),
                                              message=info.get("message", ""))
                names[(actor, cmd)] = typ
        while len(results) > RESULTS_KEPT:
            old, _ = results.popitem(last=False)
            names.pop(old, None)
        host.visible = engine.copy_state(st)

    def _release(self, host: RoomHost) -> None:
        """Lets a finished room go once nothing holds it: a closed session (or a room that
        never had an event) with no connection, no hello on its way in and nothing waiting
        to be written or delivered. It is folded again from the record on first use, as
        closed sessions are after a restart, so a server that runs for months holds only
        the rooms in use, not every session it ever hosted."""
        if self.rooms.get(host.id) is not host or host.conns or host.joining:
            return
        st = host.state
        if not (st.phase == "closed" or (st.phase == "setup" and st.seq == 0)):
            return
        if st.seq != host.visible.seq:
            return
        if any(b.host is host for b in self._pending) or any(b.host is host for b in self._inflight):
            return
        del self.rooms[host.id]
        self._due.pop(host.id, None)
        if st.phase == "closed":
            self._unloaded.add(host.id)
        if self.leases is not None:
            # a shared record: give the room back, so any server may fold it again
            asyncio.get_running_loop().run_in_executor(None, self.leases.release, host.id)

    # --- the write path -----------------------------------------------------------

    def _submit(self, host: RoomHost, emits: list[Emit], actor: str | None, cmd_id: str | None,
                now: float) -> asyncio.Future:
        """Folds the events into the decided state and queues them for the record."""
        fut = asyncio.get_running_loop().create_future()
        if not self.health.ok:
            return self._unavailable(fut)
        rows, items = self._fold(host, emits, actor, cmd_id, now)
        self._pending.append(Batch(host, rows, items, fut))
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

    def _audit(self, host: RoomHost, actor: Actor, cmd_id: str | None, what: str,
               exc: Rejected) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if not self.health.ok:
            return self._unavailable(fut)
        body = _enc.encode({"code": exc.code, "message": exc.message})
        row = Row(host.id, None, self.clock.now(), actor.id, "rejected", what, None, cmd_id, body)
        self._pending.append(Batch(host, [row], [], fut))
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
            try:
                await loop.run_in_executor(self._writer, self.record.append, rows, snaps)
            except Exception as exc:    # noqa: BLE001 - any failure to write is handled the same way
                for b in batches:
                    b.host.snap_seq = snap_before.get(id(b.host), b.host.snap_seq)
                self._failed(batches, exc)
                return
            self.commits += 1
            for b in batches:
                self._deliver(b.host, b.items)
                if not b.future.done():
                    b.future.set_result(b.items[-1].seq if b.items else b.host.visible.seq)
        finally:
            self._inflight = []
        if self.health.up():
            self._recovered()

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

    # --- fan-out ------------------------------------------------------------------

    def _deliver(self, host: RoomHost, items: list[Recent]) -> None:
        vis = host.visible
        for it in items:
            # who hears an event is decided by the room as it was when it happened:
            # the person who leaves hears their own leaving, the session's close too
            for pid, conn in list(host.conns.items()):
                m = vis.members.get(pid)
                staff = conn.role != "participant"
                if m is None and not staff:
                    continue
                if hears(it.aud, it.seq, pid, conn.role, m):
                    conn.send(it.frame(conn.binary, not staff))
            engine.evolve(vis, it.event, it.at, it.seq)
            host.recent.append(it)
            self._after_event(host, it)

    def spawn(self, coro) -> asyncio.Task:
        """Runs a coroutine beside the hub, keeping a reference until it ends."""
        t = asyncio.get_running_loop().create_task(coro)
        self._spawned.add(t)
        t.add_done_callback(self._spawned.discard)
        return t

    def _after_event(self, host: RoomHost, it: Recent) -> None:
        ev = it.event
        if self.media is not None:
            self.media.after_event(host, ev)
        if isinstance(ev, (ev_mod.Admitted, ev_mod.Returned)):
            conn = host.conns.get(ev.person)
            if conn is not None:
                # newly inside: the room's picture as this participant may see it
                conn.send(self.welcome(host, conn, resumed=False))
        elif isinstance(ev, (ev_mod.Denied, ev_mod.Removed)):
            conn = host.conns.pop(ev.person, None)
            if conn is not None:
                conn.close(1000, "removed" if isinstance(ev, ev_mod.Removed) else "denied")
        elif isinstance(ev, ev_mod.SessionClosed):
            for pid, conn in list(host.conns.items()):
                if conn.role == "participant":
                    host.conns.pop(pid, None)
                    conn.close(1000, "the session has ended")

    def welcome(self, host: RoomHost, conn: Sink, resumed: bool) -> bytes | str:
        vis = host.visible
        m = vis.members.get(conn.person)
        you = You(id=conn.person, name=m.name if m else "", role=conn.role)
        state = None
        if not resumed:
            state = vis if conn.role != "participant" else participant_view(vis, conn.person)
        return encode(Welcome(protocol=PROTOCOL_VERSION, room=host.id, you=you,
                              server_time=self.clock.now(), seq=vis.seq, resumed=resumed,
                              state=state), conn.binary)

    # --- deadlines ------------------------------------------------------------------

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

    # --- what connections ask --------------------------------------------------------

    def start_command(self, host: RoomHost, actor: Actor, cmd_id: str, cmd: Command) -> asyncio.Future:
        """Decides a command now; the returned future gives its Ack or Error once
        the events are recorded and delivered (or the refusal is audited)."""
        loop = asyncio.get_running_loop()
        key = (actor.id, cmd_id)
        name = engine.command_name(cmd)
        prior = host.results.get(key)
        if prior is not None:
            out = loop.create_future()
            if host.names.get(key, name) != name:
                out.set_result(Error(id=cmd_id, code="invalid",
                                     message=f"command id {cmd_id!r} was already used for another command"))
            elif isinstance(prior, asyncio.Future):
                prior.add_done_callback(lambda f: out.set_result(_as_retry(f.result(), cmd_id))
                                        if not f.exception() else out.set_exception(f.exception()))
            else:
                out.set_result(_as_retry(prior, cmd_id))
            return out
        if not self.health.ok:
            # refused before deciding, so nothing is believed that is not recorded;
            # the same id may be sent again once writing resumes
            self.health.refused += 1
            out = loop.create_future()
            out.set_result(Error(id=cmd_id, code="unavailable", message=self.health.detail))
            return out
        waiter = loop.create_future()
        host.remember(key, waiter)
        host.names[key] = name
        self.fire_due(host)
        try:
            emits = engine.decide(host.state, cmd, Ctx(self.clock.now(), actor, self.seal_key))
        except Rejected as exc:
            refusal = Error(id=cmd_id, code=exc.code, message=exc.message)
            fut = self._audit(host, actor, cmd_id, name, exc)
        else:
            refusal = None
            fut = self._submit(host, emits, actor.id, cmd_id, self.clock.now())

        def recorded(f: asyncio.Future) -> None:
            if f.exception() is not None:
                # not recorded, so not decided: forgotten, and a retry decides afresh
                if host.results.get(key) is waiter:
                    host.results.pop(key, None)
                self.health.refused += 1
                waiter.set_result(Error(id=cmd_id, code="unavailable", message=str(f.exception())))
                return
            result = refusal if refusal is not None else Ack(id=cmd_id, seq=f.result())
            host.remember(key, result)
            waiter.set_result(result)
            if not host.conns:
                self._release(host)    # the sender has gone meanwhile: nothing else may let it go
        fut.add_done_callback(recorded)
        return waiter

    async def command(self, host: RoomHost, actor: Actor, cmd_id: str, cmd: Command):
        """Decides, records and delivers one command; returns its Ack or Error frame."""
        try:
            cmd = _as_wire(cmd)
        except msgspec.ValidationError as exc:
            return Error(id=cmd_id, code="invalid", message=str(exc))
        return await asyncio.shield(self.start_command(host, actor, cmd_id, cmd))

    async def join(self, host: RoomHost, actor: Actor, conn: Sink, resume: int | None) -> Error | None:
        """Admits a connection into the room's fan-out; records the arrival."""
        if self.stopping:
            # the stop's drops are recorded: an arrival now would be a presence that no
            # connection backs after the restart (the client retries: not a final code)
            return Error(code="unavailable", message="the server is stopping; connect again")
        host.joining += 1          # the room may not be let go while this hello is on its way
        try:
            if host.state.seq == 0 and not host.id.startswith("~"):
                # a room named PROGRAM-DATE with no events yet: set up from its program
                await self._configure_from_program(host)
            return await self._join(host, actor, conn, resume)
        finally:
            host.joining -= 1
            self._release(host)

    async def _join(self, host: RoomHost, actor: Actor, conn: Sink, resume: int | None) -> Error | None:
        self.fire_due(host)
        now = self.clock.now()
        try:
            emits = engine.connect(host.state, actor, now)
        except Rejected as exc:
            try:
                await self._audit(host, actor, None, "join", exc)
            except Unavailable:
                pass           # refused all the same; the audit row is what an outage costs
            return Error(code=exc.code, message=exc.message)
        old = host.conns.pop(actor.id, None)
        if old is not None:
            old.close(4000, "replaced by a newer connection")
        if emits:
            try:
                await self._submit(host, emits, actor.id, None, now)
            except Unavailable:
                # welcomed from what is recorded; the arrival is recorded once writing resumes
                host.unrecorded[actor.id] = (actor, now)
        # From here to registering, nothing awaits: the welcome, the resumed events
        # and the live stream join without a gap or an overlap.
        vis = host.visible
        m = vis.members.get(actor.id)
        staff = conn.role != "participant"
        since = entered_at(m) if not staff else None
        if since is not None and resume is not None and resume < since:
            # they saw the room last from outside it (the waiting room, before
            # leaving, or a late joiner's seq 0): what happened meanwhile was not
            # theirs to hear, and the way in is the picture an admission gives
            resume = None
        missed = self._missed(host, resume)
        if missed is not None:
            conn.send(self.welcome(host, conn, resumed=True))
            for it in missed:
                # each judged by who could hear it when it was recorded, not by where they are now
                if hears(it.aud, it.seq, actor.id, conn.role, m):
                    conn.send(it.frame(conn.binary, not staff))
        else:
            conn.send(self.welcome(host, conn, resumed=False))
        host.conns[actor.id] = conn
        if not self.health.ok and conn.role != "participant":
            conn.send(encode(self.health.frame(), conn.binary))
        return None

    async def _configure_from_program(self, host: RoomHost) -> None:
        """A room never used before, named PROGRAM-DATE after a program in the record, is set
        up from that program before anyone enters it (server/programs)."""
        from server.programs.store import configure_for_room
        try:
            cmd = configure_for_room(self.reader(), host.id)
        except Exception:       # a program the record cannot give must not keep anyone out
            log.warning("a room's program could not be read; the room starts unconfigured", exc_info=True)
            return
        if cmd is not None:
            await self.configure(host.id, cmd)

    def _missed(self, host: RoomHost, resume: int | None):
        """The events after `resume`, if a resume can be served (None: send a fresh
        welcome instead): the last RECENT_KEPT of the room, from memory, or from
        the record for what a restart left on disk."""
        vis = host.visible
        if resume is None or not 0 <= resume <= vis.seq or vis.seq - resume > RECENT_KEPT:
            return None
        recent = host.recent
        if resume == vis.seq:
            return ()
        if recent and recent[0].seq <= resume + 1:
            return (it for it in recent if it.seq > resume)
        first = recent[0].seq if recent else vis.seq + 1
        older = [Recent(seq, at, aud, None, body=body) for seq, at, aud, _typ, body
                 in self.reader().events(host.id, after=resume, before=first)]
        if len(older) != first - resume - 1:
            return None        # not all on disk (cannot happen with an intact record): start afresh
        return [*older, *recent]

    async def leave(self, host: RoomHost, actor: Actor, conn: Sink) -> None:
        """A connection ended. If it was not replaced, the person dropped (or left)."""
        if host.conns.get(actor.id) is not conn:
            self._release(host)       # e.g. a participant let go at the close, or replaced
            return
        del host.conns[actor.id]
        if self.stopping:
            return
        now = self.clock.now()
        if not self.health.ok:
            host.unrecorded[actor.id] = (actor, now)
            return
        self.fire_due(host)
        emits = engine.disconnect(host.state, actor, now)
        if emits:
            try:
                await self._submit(host, emits, actor.id, None, now)
            except Unavailable:
                host.unrecorded[actor.id] = (actor, now)     # gone all the same: recorded later
            finally:
                self._release(host)
        else:
            self._release(host)

    async def refuse_hello(self, room: str | None, actor: Actor | None, code: str, message: str) -> None:
        """Records a refused connection. A token that is not genuine names nobody we
        can trust, so its refusal goes under the gateway's own pseudo-room."""
        # Anyone can knock without a usable token, as fast as they can connect: the
        # record takes a bounded number of such rows; the rest are only counted.
        now = time.monotonic()
        self._refusal_budget = min(REFUSALS_BURST, self._refusal_budget + (now - self._refusal_at) * REFUSALS_PER_S)
        self._refusal_at = now
        if self._refusal_budget < 1 or not self.health.ok:
            self.refusals_unrecorded += 1
            return
        self._refusal_budget -= 1
        fut = asyncio.get_running_loop().create_future()
        body = _enc.encode({"code": code, "message": message})
        row = Row(room or GATEWAY_ROOM, None, self.clock.now(), actor.id if actor else None, "rejected",
                  "hello", None, None, body)
        if room and self.shared and room not in self.rooms:
            # a room this server does not hold: its chain is not ours to write, so
            # the refusal goes under the gateway's pseudo-room, naming the room
            body = _enc.encode({"code": code, "message": message, "room": room})
            row = Row(GATEWAY_ROOM, None, row.at, row.actor, "rejected", "hello", None, None, body)
            room = None
        host = self.room(room) if room else self._gateway_host()
        host.joining += 1
        self._pending.append(Batch(host, [row], [], fut))
        self._wake_commit.set()
        try:
            await fut
        except Unavailable:
            self.refusals_unrecorded += 1      # refused all the same
        finally:
            host.joining -= 1
            self._release(host)   # a refused knock must not bring a finished room back for good

    def _gateway_host(self) -> RoomHost:
        # not in self.rooms: the gateway's refusals are no room that anyone joins
        if not hasattr(self, "_gw_host"):
            self._gw_host = RoomHost(GATEWAY_ROOM)
        return self._gw_host

    async def configure(self, room: str, cmd: Command) -> None:
        """Sets a room up as the server itself (scenario files, room files)."""
        host = await self.take(room, wait=True)
        cmd = _as_wire(cmd)
        emits = engine.decide(host.state, cmd, Ctx(self.clock.now(), engine.SYSTEM, self.seal_key))
        await self._submit(host, emits, "system", None, self.clock.now())
