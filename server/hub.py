"""The hub: rooms, the commands and connections that reach them, and what it is made of.

A command is decided against the room's decided state, folded into it at once,
queued for the record, and answered once its events are durable and delivered.
The hub's subjects each have their module, all parts of this one class:
  * group commit and snapshots: server/group_commit.py (durable before visible);
  * fan-out by audience and the recent window resumes come from: server/fanout.py;
  * remembered command ids, so a retry is applied once: server/command_ids.py;
  * deadlines that fire by themselves: server/deadlines.py;
  * rooms from the record, and letting them go: server/loading.py;
  * rooms shared with other servers (PostgreSQL leases): server/sharing.py;
  * a record that cannot be written: server/outage.py, server/health.py and
    docs/reliability.md.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import msgspec

from protocol.commands import Command
from protocol.frames import Ack, Error, encode
from server import command_ids, engine, snapshots
from server.bucket import TokenBucket
from server.deadlines import Deadlines
from server.engine import Actor, Ctx, Rejected
from server.engine.hearing import entered_at, hears
from server.fanout import Fanout
from server.group_commit import GroupCommit
from server.health import Health, Unavailable
from server.loading import Loading
from server.outage import Outages
from server.record import Record, Row  # noqa: F401  (Record: the interface's name)
# what other modules know the hub's room by
from server.room_host import RECENT_KEPT, Batch, Recent, RoomHost, Sink, _as_retry, _as_wire, _enc  # noqa: F401
from server.sharing import Sharing

log = logging.getLogger("session_server.hub")

GATEWAY_ROOM = "~gateway"    # where refusals of unusable tokens are recorded
REFUSALS_PER_S = 20.0        # refused hellos recorded per second, sustained
REFUSALS_BURST = 100.0


class Hub(GroupCommit, Fanout, Outages, Loading, Sharing, Deadlines):
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
        self._refusals = TokenBucket(REFUSALS_PER_S, REFUSALS_BURST)
        self.refusals_unrecorded = 0
        # a record shared with other servers (PostgreSQL): rooms are taken with leases
        self.shared = bool(getattr(record, "shared", False))
        self.media = None           # server/media.rooms.MediaRooms, when voice is on
        self._spawned: set[asyncio.Task] = set()
        self.leases = None
        self._taking: dict[str, asyncio.Future] = {}
        self._unsure: set[str] = set()        # rooms whose commit failed on a lost connection

    # --- start and stop -----------------------------------------------------------

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

    def spawn(self, coro) -> asyncio.Task:
        """Runs a coroutine beside the hub, keeping a reference until it ends."""
        t = asyncio.get_running_loop().create_task(coro)
        self._spawned.add(t)
        t.add_done_callback(self._spawned.discard)
        return t

    # --- what connections ask --------------------------------------------------------

    def start_command(self, host: RoomHost, actor: Actor, cmd_id: str, cmd: Command,
                      answer: Callable[[object], None] | None = None) -> asyncio.Future:
        """Decides a command now; the returned future gives its Ack or Error once
        the events are recorded and delivered (or the refusal is audited).

        `answer`, if given, is called with that Ack or Error as soon as it is
        known: for a command recorded now, inside the commit's delivery of its
        room, so the answer is written to the sender together with the events
        it follows (one write instead of two, and no turn of the loop between)."""
        loop = asyncio.get_running_loop()
        key = (actor.id, cmd_id)
        name = engine.command_name(cmd)
        again = command_ids.answer_again(host, key, name, cmd_id)
        if again is not None:
            return _answered(again, answer)
        if not self.health.ok:
            # refused before deciding, so nothing is believed that is not recorded;
            # the same id may be sent again once writing resumes
            self.health.refused += 1
            out = loop.create_future()
            out.set_result(Error(id=cmd_id, code="unavailable", message=self.health.detail))
            return _answered(out, answer)
        waiter = loop.create_future()
        command_ids.expect(host, key, name, waiter)
        self.fire_due(host)

        def settle(result, recorded: bool = True) -> None:
            if recorded:
                host.remember(key, result)
            else:
                # not decided after all: a retry of the same id decides afresh
                command_ids.forget(host, key, waiter)
                self.health.refused += 1
            if not waiter.done():
                waiter.set_result(result)
            if answer is not None:
                answer(result)
            if not host.conns:
                self._release(host)    # the sender has gone meanwhile: nothing else may let it go

        try:
            emits = engine.decide(host.state, cmd, Ctx(self.clock.now(), actor, self.seal_key))
        except Rejected as exc:
            refusal = Error(id=cmd_id, code=exc.code, message=exc.message)
            fut = self._audit(host, actor, cmd_id, name, exc, after=lambda _seq: settle(refusal))
        else:
            fut = self._submit(host, emits, actor.id, cmd_id, self.clock.now(),
                               after=lambda seq: settle(Ack(id=cmd_id, seq=seq)))

        def not_recorded(f: asyncio.Future) -> None:
            if not f.cancelled() and f.exception() is not None:    # recorded: settled by `after`
                settle(Error(id=cmd_id, code="unavailable", message=str(f.exception())), recorded=False)
        fut.add_done_callback(not_recorded)
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

    async def issue_device(self, host: RoomHost, actor: Actor) -> str | None:
        """A fresh device id for a participant whose link is being exchanged, recorded
        (`device_issued`) before the credential that names it goes out, so every server
        after any restart knows which device holds the place. None while the record
        cannot be written: the page then keeps its link, and exchanges it next time."""
        device = secrets.token_urlsafe(12)
        emits = engine.issue_device(host.state, actor, device)
        if not emits:
            return None
        try:
            await self._submit(host, emits, actor.id, None, self.clock.now())
        except Unavailable:
            return None
        return device

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
        if not self.health.ok or not self._refusals.take():
            self.refusals_unrecorded += 1
            return
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


def _answered(fut: asyncio.Future, answer: Callable[[object], None] | None) -> asyncio.Future:
    """`fut`, with `answer` called with its result once it has one (a retry, a refusal at the door)."""
    if answer is not None:
        fut.add_done_callback(lambda f: None if f.cancelled() or f.exception() is not None
                              else answer(f.result()))
    return fut
