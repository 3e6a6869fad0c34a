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
import time
import logging
from concurrent.futures import ThreadPoolExecutor

import msgspec

from protocol import events as ev_mod
from protocol.commands import Command
from protocol.frames import PROTOCOL_VERSION, Ack, Error, Welcome, You, encode
from server import engine, snapshots
from server.health import BACKOFF_FIRST, BACKOFF_MAX, Health, Unavailable
from server.outage import Outages
from server.engine import Actor, Ctx, Emit, Rejected
from server.engine.hearing import entered_at, hears
from server.engine.views import participant_view
from server.deadlines import Deadlines
from server.loading import Loading
from server.record import Record, Row  # noqa: F401  (Record: the interface's name)
# what other modules know the hub's room by
from server.room_host import RECENT_KEPT, Batch, Recent, RoomHost, Sink, _as_retry, _as_wire, _enc  # noqa: F401
from server.sharing import Sharing

log = logging.getLogger("session_server.hub")

GATEWAY_ROOM = "~gateway"    # where refusals of unusable tokens are recorded
REFUSALS_PER_S = 20.0        # refused hellos recorded per second, sustained
REFUSALS_BURST = 100.0



class Hub(Outages, Loading, Sharing, Deadlines):
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

    # --- rooms shared with other servers (PostgreSQL) --------------------------------

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
