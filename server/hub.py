"""The hub: rooms, group commit, fan-out by audience, deadlines.

Order of work for a command: fire any deadline already due, decide against
the room's decided state, fold the events into it at once (so the next
command sees them), queue the rows for the record. A single committer writes
whatever is queued in one transaction (group commit) and only then folds the
events into the room's *visible* state and hands them to the connections.
So the visible state is always exactly the fold of the record, and nothing
reaches anyone before it is durable.
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
from server import engine, snapshots
from server.engine import Actor, Ctx, Emit, Rejected
from server.engine.views import for_participants, participant_view, receives
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


class Hub:
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
        self.failed: BaseException | None = None
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
        for host in self.rooms.values():
            self._ready(host)
        return n

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

    async def stop(self) -> None:
        await self.flush()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        self._writer.shutdown(wait=True)
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
        """Folds a closed session from the record on first use."""
        for seq, at, aud, typ, body in self.reader().events(host.id):
            event = _event_dec.decode(body)
            engine.evolve(host.state, event, at, seq)
            host.recent.append(Recent(seq, at, aud, event))
        host.visible = engine.copy_state(host.state)

    # --- the write path -----------------------------------------------------------

    def _submit(self, host: RoomHost, emits: list[Emit], actor: str | None, cmd_id: str | None,
                now: float) -> asyncio.Future:
        """Folds the events into the decided state and queues them for the record."""
        fut = asyncio.get_running_loop().create_future()
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
        self._pending.append(Batch(host, rows, items, fut))
        self._wake_commit.set()
        self._reschedule(host)
        return fut

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
        body = _enc.encode({"code": exc.code, "message": exc.message})
        row = Row(host.id, None, self.clock.now(), actor.id, "rejected", what, None, cmd_id, body)
        self._pending.append(Batch(host, [row], [], fut))
        self._wake_commit.set()
        return fut

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake_commit.wait()
            self._wake_commit.clear()
            if not self._pending:
                continue
            batches, self._pending = self._pending, []
            self._inflight = batches
            rows = [r for b in batches for r in b.rows]
            snaps = self._snapshots_due(batches)
            try:
                await loop.run_in_executor(self._writer, self.record.append, rows, snaps)
            except BaseException as exc:   # the record is the truth: without it, stop
                log.critical("record write failed: %s", type(exc).__name__)
                self.failed = exc
                for b in batches:
                    if not b.future.done():
                        b.future.set_exception(RuntimeError("the record could not be written"))
                raise
            self.commits += 1
            for b in batches:
                self._deliver(b.host, b.items)
                if not b.future.done():
                    b.future.set_result(b.items[-1].seq if b.items else b.host.visible.seq)
            self._inflight = []

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
            await asyncio.shield(fut)

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
                status = m.status if m is not None else "present"
                if receives(it.aud, pid, conn.role, status, m.breakout if m else None):
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
                host.results.pop(key, None)
                waiter.set_exception(f.exception())
                waiter.exception()
                return
            result = refusal if refusal is not None else Ack(id=cmd_id, seq=f.result())
            host.remember(key, result)
            waiter.set_result(result)
        fut.add_done_callback(recorded)
        return waiter

    async def command(self, host: RoomHost, actor: Actor, cmd_id: str, cmd: Command):
        """Decides, records and delivers one command; returns its Ack or Error frame."""
        return await asyncio.shield(self.start_command(host, actor, cmd_id, cmd))

    async def join(self, host: RoomHost, actor: Actor, conn: Sink, resume: int | None) -> Error | None:
        """Admits a connection into the room's fan-out; records the arrival."""
        self.fire_due(host)
        try:
            emits = engine.connect(host.state, actor, self.clock.now())
        except Rejected as exc:
            await self._audit(host, actor, None, "join", exc)
            return Error(code=exc.code, message=exc.message)
        old = host.conns.pop(actor.id, None)
        if old is not None:
            old.close(4000, "replaced by a newer connection")
        if emits:
            await self._submit(host, emits, actor.id, None, self.clock.now())
        # From here to registering, nothing awaits: the welcome, the resumed events
        # and the live stream join without a gap or an overlap.
        vis = host.visible
        missed = self._missed(host, resume)
        if missed is not None:
            conn.send(self.welcome(host, conn, resumed=True))
            m = vis.members.get(actor.id)
            staff = conn.role != "participant"
            for it in missed:
                if receives(it.aud, actor.id, conn.role, m.status if m else "absent",
                            m.breakout if m else None):
                    conn.send(it.frame(conn.binary, not staff))
        else:
            conn.send(self.welcome(host, conn, resumed=False))
        host.conns[actor.id] = conn
        return None

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
            return
        del host.conns[actor.id]
        if self.stopping:
            return
        self.fire_due(host)
        emits = engine.disconnect(host.state, actor, self.clock.now())
        if emits:
            await self._submit(host, emits, actor.id, None, self.clock.now())

    async def refuse_hello(self, room: str | None, actor: Actor | None, code: str, message: str) -> None:
        """Records a refused connection. A token that is not genuine names nobody we
        can trust, so its refusal goes under the gateway's own pseudo-room."""
        # Anyone can knock without a usable token, as fast as they can connect: the
        # record takes a bounded number of such rows; the rest are only counted.
        now = time.monotonic()
        self._refusal_budget = min(REFUSALS_BURST, self._refusal_budget + (now - self._refusal_at) * REFUSALS_PER_S)
        self._refusal_at = now
        if self._refusal_budget < 1:
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
        self._pending.append(Batch(self.room(room) if room else self._gateway_host(), [row], [], fut))
        self._wake_commit.set()
        await fut

    def _gateway_host(self) -> RoomHost:
        # not in self.rooms: the gateway's refusals are no room that anyone joins
        if not hasattr(self, "_gw_host"):
            self._gw_host = RoomHost(GATEWAY_ROOM)
        return self._gw_host

    async def configure(self, room: str, cmd: Command) -> None:
        """Sets a room up as the server itself (scenario files, room files)."""
        host = await self.take(room, wait=True)
        emits = engine.decide(host.state, cmd, Ctx(self.clock.now(), engine.SYSTEM, self.seal_key))
        await self._submit(host, emits, "system", None, self.clock.now())
