"""The load generator: N rooms of one facilitator and eleven participants.

Every person is a real websocket connection from this process to a server in
another process (the project's, or the bare relay), so the server under test
has a core of its own and this process the other. All times are read from one
clock here (`time.perf_counter`): latency is the time from sending a command
to the moment each recipient receives the event it caused.

How an event is traced to its command without adding anything to the
protocol: within a room, commands are decided one after another, and the ack
of each carries the room's sequence number once its events were recorded. So
the events of the k-th accepted command are exactly the sequence numbers
after the previous ack's and up to its own. The one event in the window that
no command causes (the late participant knocking) is matched to the moment
that participant said hello. For the relay, the forwarded frame is the
command itself and carries its id.

The load is open-loop: a room sends on its timeline whatever the answers,
so a slow server is seen as latency, not hidden as a slower request rate.
"""
from __future__ import annotations

import asyncio
import bisect
import collections
import gc
import itertools
import math
import os
import tempfile
import time
from dataclasses import dataclass, field

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from bench import schedule as sch
from bench.target import ROOT, Target, postgres_cpu  # noqa: F401  (ROOT, Target: named from here too)
from protocol import commands as c
from protocol.frames import PROTOCOL_VERSION, Cmd, Hello, encode
from server import tokens

CONNECT_TYPES = {"participant_waiting", "staff_entered", "returned", "dropped", "waiting_left", "staff_left"}
clock = time.perf_counter


# --- what the generator reads of a frame: only what it needs ------------------------

class _Ev(msgspec.Struct):
    type: str = ""
    person: str | None = None


class _State(msgspec.Struct):
    status: str = ""


class _Frame(msgspec.Struct):
    t: str
    state: _State | None = None
    seq: int = 0
    id: str | int | None = None
    code: str = ""
    ev: _Ev | None = None


_light = msgspec.msgpack.Decoder(_Frame)


class _Conn(ClientConnection):
    """A client connection that hands each received frame straight to a callback.

    The stamp is taken while the event loop parses the bytes off the socket,
    not later when a reader task gets round to the message: a burst then shows
    the server's delay, not the generator's queue of tasks.
    """
    on_data = None

    def process_event(self, event) -> None:
        cb = self.on_data
        if cb is not None and isinstance(event, Frame) and event.opcode is Opcode.BINARY and event.fin:
            cb(event.data)
            return
        super().process_event(event)
_setup_ids = itertools.count(1)


# --- one run ---------------------------------------------------------------------------

@dataclass
class Recorder:
    rooms: int
    sent: dict = field(default_factory=dict)               # cid -> (room, t_send, kind)
    acks: list = field(default_factory=list)               # per room: [(seq, t_send, kind)]
    deliveries: list = field(default_factory=list)         # (room, seq or cid, event type, t)
    hello_at: dict = field(default_factory=dict)           # room -> t the late participant said hello
    errors: collections.Counter = field(default_factory=collections.Counter)
    last_rx: float = 0.0
    skipped: int = 0

    def __post_init__(self):
        self.acks = [[] for _ in range(self.rooms)]


class Peer:
    """One person's connection."""

    def __init__(self, run: "Run", room: int, who: int):
        self.run, self.room, self.who = run, room, who
        self.target = run.target_of(room)
        self.pid = sch.pid(who)
        self.ws = None
        self.pending: dict[str, asyncio.Future] = {}
        self.welcomed: asyncio.Future | None = None
        self.admitted = asyncio.Event()

    async def connect(self) -> None:
        run = self.run
        if run.kind == "relay":
            ws = await connect(f"{self.target.url}/r{self.room}", max_size=None, ping_interval=None,
                               open_timeout=60, create_connection=_Conn, compression=run.compression)
            ws.on_data = self._on_relay
            self.ws = ws
            return
        url = self.target.url
        if run.shared:
            url += f"/?room={run.room_id(self.room)}"     # as clients of a cluster do (docs/protocol.md)
        ws = await connect(url, max_size=None, ping_interval=None, open_timeout=60,
                           create_connection=_Conn, compression=run.compression)
        ws.on_data = self._on_project
        self.ws = ws
        self.welcomed = asyncio.get_running_loop().create_future()
        a = sch.actor(self.who)
        token = tokens.sign(self.target.secret, tokens.Claims(
            room=run.room_id(self.room), role=a.role, id=a.id, name=a.name, exp=time.time() + 3600))
        if self.who == sch.LATE:
            run.rec.hello_at[self.room] = clock()
        await self.ws.send(encode(Hello(token=token, protocol=PROTOCOL_VERSION)))
        await asyncio.wait_for(self.welcomed, 60)

    async def call(self, cmd: c.Command) -> object:
        """A command during setup: waits for its answer."""
        cid = f"setup.{self.room}.{self.who}.{next(_setup_ids)}"
        fut = asyncio.get_running_loop().create_future()
        self.pending[cid] = fut
        await self.ws.send(encode(Cmd(id=cid, cmd=cmd)))
        return await asyncio.wait_for(fut, 60)

    def _on_project(self, data) -> None:
        t = clock()
        rec = self.run.rec
        rec.last_rx = t
        f = _light.decode(data)
        k = f.t
        if k == "event":
            ev = f.ev
            rec.deliveries.append((self.room, f.seq, ev.type, t))
            if ev.type == "admitted" and ev.person == self.pid:
                self.admitted.set()
        elif k == "ack":
            s = rec.sent.get(f.id)
            if s is not None:
                rec.acks[self.room].append((f.seq, s[1], s[2]))
            fut = self.pending.pop(f.id, None)
            if fut is not None and not fut.done():
                fut.set_result(f)
        elif k == "error":
            rec.errors[f.code] += 1
            fut = self.pending.pop(f.id, None) if isinstance(f.id, str) else None
            if fut is not None and not fut.done():
                fut.set_result(f)
            elif self.welcomed is not None and not self.welcomed.done():
                self.welcomed.set_exception(RuntimeError(f"refused: {f.code}"))
        elif k == "welcome":
            if self.welcomed is not None and not self.welcomed.done():
                self.welcomed.set_result(f)
            if f.state is not None and f.state.status == "present":
                # admitted: the participant gets the room's picture in a fresh welcome
                self.admitted.set()

    def _on_relay(self, data) -> None:
        t = clock()
        rec = self.run.rec
        rec.last_rx = t
        rec.deliveries.append((self.room, _light.decode(data).id, "", t))

    async def close(self) -> None:
        if self.ws is not None and self.ws.transport is not None:
            self.ws.transport.abort()


def pct(sorted_vals: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return float("nan")
    return sorted_vals[max(0, min(len(sorted_vals) - 1, math.ceil(q * len(sorted_vals)) - 1))]


class Run:
    def __init__(self, kind: str, rooms: int, seconds: float, rate: float, seed: int = 7,
                 connect_concurrency: int = 32, compression: str | None = "deflate", bursts: bool = True,
                 pg=None, servers: int = 1, generators: int = 1, part: int = 0):
        # generators: processes the people are spread over (bench/generators.py); this one
        # drives the rooms r with r % generators == part, so a burst is read several ways at
        # once (it moved neither kind's ceiling: docs/performance.md, round 6).
        # pg: a server.record.pgserver.LocalPostgres; each run gets a fresh database on it.
        # servers: project processes sharing that record; room r is served by server r % servers,
        # and its people connect straight to it (what HAProxy's `balance url_param room` gives).
        self.pg, self.servers = pg, servers
        self.shared = pg is not None
        self.targets: list[Target] = []
        self.bursts = bursts             # the every-room poll and breakouts, or only steady talk
        self.compression = compression   # what clients offer; browsers offer permessage-deflate
        self.kind, self.rooms, self.seconds, self.rate, self.seed = kind, rooms, seconds, rate, seed
        self.conc = connect_concurrency
        self.rec = Recorder(rooms)
        self.target: Target | None = None
        self.peers: list[list[Peer]] = []
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.base_seq = [0] * rooms
        self.generators, self.part = generators, part
        self.mine = [r for r in range(rooms) if r % generators == part]

    def target_of(self, r: int) -> "Target":
        return self.targets[r % len(self.targets)]

    def room_id(self, r: int) -> str:
        return f"bench-room-{r}"

    async def _setup_room(self, r: int, sem: asyncio.Semaphore) -> None:
        peers = self.peers[r]
        async with sem:
            if self.kind == "relay":
                await asyncio.gather(*(p.connect() for p in peers[:sch.LATE]))
                return
            fac = peers[0]
            await fac.connect()
            await fac.call(c.Configure(title="Tuesday evening group", capacity=12, roster=sch.roster()))
            await fac.call(c.Open())
            await asyncio.gather(*(p.connect() for p in peers[1:sch.LATE]))
            await asyncio.gather(*(fac.call(c.Admit(target=p.pid)) for p in peers[1:sch.LATE]))
            await asyncio.wait_for(asyncio.gather(*(p.admitted.wait() for p in peers[1:sch.LATE])), 60)

    async def _room(self, r: int, steps: list[sch.Step], t0: float) -> None:
        rec = self.rec
        peers = self.peers[r]
        joins = []
        for i, s in enumerate(steps):
            delay = t0 + s.t - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            p = peers[s.who]
            if s.kind == "join":
                joins.append(asyncio.create_task(p.connect()))
                continue
            if p.ws is None:
                rec.skipped += 1
                continue
            cid = f"{r}.{i}"
            data = encode(Cmd(id=cid, cmd=s.cmd))
            rec.sent[cid] = (r, clock(), s.kind)
            try:
                await p.ws.send(data)
            except ConnectionClosed:
                rec.errors["closed"] += 1
        for j in joins:
            try:
                await j
            except Exception:
                rec.errors["join_failed"] += 1

    async def execute(self, on_ready=None) -> dict:
        """Starts the server, sets the rooms up, runs the window, stops; returns the figures."""
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-")
        secret = os.urandom(32)
        db = self.pg.create_database() if self.pg is not None else os.path.join(self.tmp.name, "record.db")
        self.targets = [Target(self.kind, db, secret, index=i) for i in range(self.servers)]
        self.target = self.targets[0]
        helpers = None
        try:
            t_start = clock()
            await asyncio.gather(*(t.start() for t in self.targets))
            rss_empty = sum(t.rss() for t in self.targets)
            if self.generators > 1:
                from bench.generators import Helpers
                helpers = await Helpers(self).start()      # they connect the other parts' rooms meanwhile
            await self.connect_rooms()
            if helpers is not None:
                await helpers.ready()
            setup_s = clock() - t_start
            await asyncio.sleep(0.3)
            rss_held = sum(t.rss() for t in self.targets)
            if on_ready is not None:
                await on_ready(self)
            cpu0, gen0, t0 = self._cpus(), time.process_time(), clock() + 0.2
            if helpers is not None:
                helpers.go(t0)
            t1 = await self.drive(t0)
            cpu1, gen1 = self._cpus(), time.process_time()
            lat, kinds, counts = self.latencies()
            gen_cpu = [gen1 - gen0]
            if helpers is not None:
                for part in await helpers.results():
                    lat.extend(part["lat"])
                    for k, v in part["kinds"].items():
                        kinds.setdefault(k, []).extend(v)
                    counts["errors"] += collections.Counter(part["counts"].pop("errors"))
                    for k, v in part["counts"].items():
                        counts[k] += v
                    gen_cpu.append(part["cpu_s"])
                    t1 = max(t1, part["t1"])
            result = self._figures(lat, kinds, counts, t1 - t0)
            result.update(
                rooms=self.rooms, connections=self.rooms * (sch.PARTICIPANTS + 1), setup_s=round(setup_s, 2),
                server_cpu_pct=round(100 * (cpu1[0] - cpu0[0]) / (t1 - t0), 1),
                servers=self.servers, record="postgresql" if self.pg is not None else "sqlite",
                # every server process together (up to 100 per core), and PostgreSQL's own processes
                server_cpu_each_pct=[round(100 * (b - a) / (t1 - t0), 1) for a, b in zip(cpu0[2], cpu1[2])],
                postgres_cpu_pct=(round(100 * (cpu1[1] - cpu0[1]) / (t1 - t0), 1)
                                  if self.pg is not None else None),
                # the busiest generator process: near a whole core, it sets the pace (bench/ladder.py)
                loadgen_cpu_pct=round(100 * max(gen_cpu) / (t1 - t0), 1),
                loadgen_cpu_each_pct=[round(100 * g / (t1 - t0), 1) for g in gen_cpu],
                generators=self.generators,
                rss_empty_mb=round(rss_empty / 2**20, 1), rss_held_mb=round(rss_held / 2**20, 1),
                rss_per_connection_kb=round((rss_held - rss_empty) / 1024 / (self.rooms * sch.PARTICIPANTS), 1),
            )
            return result
        finally:
            if helpers is not None:
                await helpers.stop()
            await asyncio.gather(*(t.stop() for t in self.targets))
            await self.close_all()
            self.tmp.cleanup()

    async def connect_rooms(self) -> None:
        """Connects this part's rooms and sets each one up as a facilitator would."""
        mine = set(self.mine)
        self.peers = [[Peer(self, r, w) for w in range(sch.PARTICIPANTS + 1)] if r in mine else []
                      for r in range(self.rooms)]
        sem = asyncio.Semaphore(self.conc)
        await asyncio.gather(*(self._setup_room(r, sem) for r in self.mine))

    async def drive(self, t0: float) -> float:
        """Runs this part's rooms on their timelines from t0 (on `clock`, which every
        process on the machine shares) and drains; returns when it ended."""
        if self.kind == "project":
            for d in self.rec.deliveries:
                if d[1] > self.base_seq[d[0]]:
                    self.base_seq[d[0]] = d[1]
        self.rec.deliveries.clear()
        plans = {r: sch.window(self.room_id(r), self.seed * 100_003 + r, self.seconds, self.rate, self.bursts)
                 for r in self.mine}
        gc.collect()
        gc.disable()      # a full collection here would show up as latency that is ours, not the server's
        try:
            await asyncio.gather(*(self._room(r, plans[r], t0) for r in self.mine))
            # drain: until nothing has arrived for a while, bounded
            limit = clock() + max(3.0, self.seconds)
            while clock() < limit and clock() - self.rec.last_rx < 0.5:
                await asyncio.sleep(0.05)
            return clock()
        finally:
            gc.enable()

    async def close_all(self) -> None:
        for room in self.peers:
            for p in room:
                await p.close()

    def _cpus(self) -> tuple[float, float, list[float]]:
        each = [t.cpu() for t in self.targets]
        return sum(each), (postgres_cpu(self.pg) if self.pg is not None else 0.0), each

    def latencies(self) -> tuple[list[float], dict[str, list[float]], dict]:
        """Every delivery's latency (seconds), by the kind of command that caused it, and the counts."""
        rec = self.rec
        lat: list[float] = []
        kinds: dict[str, list[float]] = collections.defaultdict(list)
        unmatched = 0
        if self.kind == "relay":
            for room, cid, _typ, t in rec.deliveries:
                s = rec.sent.get(cid)
                if s is None:
                    unmatched += 1
                    continue
                lat.append(t - s[1])
                kinds[s[2]].append(t - s[1])
        else:
            index = []
            for acks in rec.acks:
                acks.sort()
                index.append([a[0] for a in acks])
            for room, seq, typ, t in rec.deliveries:
                if seq <= self.base_seq[room]:
                    continue
                if typ in CONNECT_TYPES:
                    t_send, kind = rec.hello_at.get(room), "join"
                else:
                    i = bisect.bisect_left(index[room], seq)
                    if i == len(index[room]):
                        t_send = None
                    else:
                        _s, t_send, kind = rec.acks[room][i]
                if t_send is None:
                    unmatched += 1
                    continue
                lat.append(t - t_send)
                kinds[kind].append(t - t_send)
        counts = {"commands": len(rec.sent), "acks": sum(len(a) for a in rec.acks), "unmatched": unmatched,
                  "errors": collections.Counter(rec.errors), "skipped": rec.skipped}
        return lat, dict(kinds), counts

    def _figures(self, lat: list[float], kinds: dict[str, list[float]], counts: dict, elapsed: float) -> dict:
        lat.sort()
        out = {
            "commands": counts["commands"],
            "deliveries": len(lat),
            "delivered_events_per_s": round(len(lat) / self.seconds, 1),
            "latency_ms": {"p50": round(1000 * pct(lat, 0.50), 2), "p99": round(1000 * pct(lat, 0.99), 2),
                           "max": round(1000 * lat[-1], 2) if lat else float("nan")},
            "by_kind_p99_ms": {k: round(1000 * pct(sorted(v), 0.99), 2) for k, v in sorted(kinds.items())},
            "unmatched": counts["unmatched"],
            "errors": dict(counts["errors"]),
            "skipped": counts["skipped"],
            "window_s": round(elapsed, 2),
        }
        if self.kind == "project":
            out["acks"] = counts["acks"]
        return out


def max_rooms(people: int = sch.PARTICIPANTS + 1) -> int:
    """The most rooms this process can connect: each person is an open file here."""
    import resource
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(1, (soft - 300) // people)


def sustained(result: dict, limit_ms: float = 100.0) -> bool:
    """Under the latency limit, with (almost) every command answered and delivered."""
    bad = sum(result["errors"].values()) + result["skipped"] + result["unmatched"]
    answered = result.get("acks", result["commands"])
    return (result["latency_ms"]["p99"] <= limit_ms and bad <= 0.01 * max(1, result["commands"])
            and answered >= 0.99 * result["commands"])


async def run_once(kind: str, rooms: int, seconds: float, rate: float, seed: int = 7,
                   compression: str | None = "deflate", bursts: bool = True, pg=None, servers: int = 1,
                   generators: int = 1) -> dict:
    return await Run(kind, rooms, seconds, rate, seed, compression=compression, bursts=bursts,
                     pg=pg, servers=servers, generators=generators).execute()
