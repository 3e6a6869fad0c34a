"""The figures beside the latency race: record writes, fold rate, restart time.

Each is bounded in count and time and uses its own temporary directory.
"""
from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time

import msgspec
from websockets.asyncio.client import connect

from bench import schedule as sch
from bench.load import Target, pct
from protocol import events as ev_mod
from protocol.frames import PROTOCOL_VERSION, Hello, decode_server, encode
from server import engine, snapshots, tokens
from server.record import Record, Row, reading

_enc = msgspec.msgpack.Encoder()


def _rows(room: str, log: list[sch.Emitted]) -> list[Row]:
    out = []
    for x in log:
        anonymous = isinstance(x.event, ev_mod.BallotCast)
        out.append(Row(room, x.seq, x.at, None if anonymous else x.actor, "event",
                       type(x.event).__struct_config__.tag, x.aud, None if anonymous else x.cmd_id,
                       _enc.encode(x.event)))
    return out


# --- durable record writes ---------------------------------------------------------------

def record_writes(sizes: list[int], seconds_each: float, directory: str, pg=None) -> dict:
    """Record.append in batches of each size, against a file on disk: events/s and commits/s.

    With `pg` (a LocalPostgres), the same batches into a fresh PostgreSQL database
    on it (synchronous_commit on, fsync on): PostgreSQL's commit latency as the
    record sees it, through psycopg on loopback."""
    template = [x for x in sch.group_session("w", 1, minutes=30) if type(x.event).__name__ in
                ("ChatPosted", "HandRaised", "TurnStarted", "TurnEnded", "VoteCast")]
    out = {}
    for size in sizes:
        if pg is not None:
            from server.record import open_record
            rec = open_record(pg.create_database())
        else:
            rec = Record(os.path.join(directory, f"writes-{size}.db"))
        seq: dict[str, int] = {}
        n = commits = 0
        i = 0
        each: list[float] = []
        t0 = time.perf_counter()
        while True:
            batch = []
            for _ in range(size):
                x = template[i % len(template)]
                room = f"room-{i % 64}"
                s = seq[room] = seq.get(room, 0) + 1
                batch.append(Row(room, s, x.at, x.actor, "event", type(x.event).__struct_config__.tag,
                                 x.aud, f"c{i}", _enc.encode(x.event)))
                i += 1
            tc = time.perf_counter()
            rec.append(batch)
            each.append(time.perf_counter() - tc)
            n += size
            commits += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds_each:
                break
        rec.close()
        each.sort()
        out[str(size)] = {"events_per_s": round(n / elapsed, 1), "commits_per_s": round(commits / elapsed, 1),
                          "commit_ms": {"p50": round(1000 * pct(each, 0.5), 3), "p99": round(1000 * pct(each, 0.99), 3),
                                        "max": round(1000 * each[-1], 3)}}
    return out


# --- the fold --------------------------------------------------------------------------

def fold_rate(rooms: int, repeats: int) -> dict:
    """Events/s through the record's reader (`server.record.reading`: the engine's `evolve` over frames)
    over whole 90-minute groups, from decoded frames and from the recorded bytes, as a restart reads them."""
    logs = [sch.group_session(f"room-{i}", 1000 + i) for i in range(rooms)]
    encoded = [[(x.seq, x.at, x.aud, _enc.encode(x.event)) for x in log] for log in logs]
    n = sum(len(log) for log in logs)
    fold, both = [], []
    for _ in range(repeats):
        decoded = [[reading.frame(*row) for row in log] for log in encoded]
        t0 = time.perf_counter()
        for r, log in enumerate(decoded):
            reading.fold_frames(engine.new_room(f"room-{r}"), log)
        fold.append(n / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for r, log in enumerate(encoded):
            reading.fold_frames(engine.new_room(f"room-{r}"), (reading.frame(*row) for row in log))
        both.append(n / (time.perf_counter() - t0))
    return {"events": n, "rooms": rooms, "events_per_room": n // rooms,
            "fold_events_per_s": round(statistics.median(fold)),
            "decode_and_fold_events_per_s": round(statistics.median(both))}


# --- restart -------------------------------------------------------------------------------

def build_record(path: str, rooms: int, minutes: float, secret: bytes = b"") -> int:
    """A record holding `rooms` open rooms, each `minutes` into a group; returns events written.

    As the server writes it: each room's newest snapshot (server.snapshots,
    one per EVERY events) beside its log, sealed with `secret`."""
    template = sch.group_session("template", 42, minutes=minutes)
    snap_at = len(template) // snapshots.EVERY * snapshots.EVERY
    state = engine.new_room("template")
    for x in template[:snap_at]:
        engine.evolve(state, x.event, x.at, x.seq)
    sealer = snapshots.Sealer(secret)
    rec = Record(path)
    n = 0
    batch: list[Row] = []
    snaps: list[tuple] = []
    for r in range(rooms):
        room = f"restart-{r}"
        batch.extend(_rows(room, template))
        if snap_at:
            state.room = room
            snaps.append(sealer.seal(room, state))
        if len(batch) >= 20_000:
            rec.append(batch, snaps)
            n += len(batch)
            batch, snaps = [], []
    if batch:
        rec.append(batch, snaps)
        n += len(batch)
    rec.close()
    return n


async def restart(rooms: int, minutes: float, directory: str, concurrency: int = 64,
                  secret: bytes | None = None) -> dict:
    """Starts a server on a record of `rooms` open rooms; times until every room welcomed its facilitator."""
    path = os.path.join(directory, "restart.db")
    secret = secret or os.urandom(32)
    events = build_record(path, rooms, minutes, secret)
    target = Target("project", path, secret)
    t0 = time.perf_counter()
    await target.start(timeout=120)
    t_ready = time.perf_counter() - t0
    sem = asyncio.Semaphore(concurrency)
    conns = []

    async def one(r: int) -> None:
        token = tokens.sign(secret, tokens.Claims(room=f"restart-{r}", role="facilitator", id="f0",
                                                  name="Facilitator", exp=time.time() + 3600))
        async with sem:
            ws = await connect(target.url, max_size=None, ping_interval=None, open_timeout=60)
            conns.append(ws)
            await ws.send(encode(Hello(token=token, protocol=PROTOCOL_VERSION)))
            while True:
                f = decode_server(await asyncio.wait_for(ws.recv(), 60))
                if type(f).__name__ == "Welcome":
                    if f.seq <= 0 or f.state is None or f.state.phase != "open":
                        raise RuntimeError("a room came back without its state")
                    return
                if type(f).__name__ == "Error":
                    raise RuntimeError(f"refused: {f.code}")

    try:
        await asyncio.gather(*(one(r) for r in range(rooms)))
        t_all = time.perf_counter() - t0
        rss = target.rss()
    finally:
        await target.stop()
        for ws in conns:
            if ws.transport is not None:
                ws.transport.abort()
    return {"rooms": rooms, "events_in_record": events, "record_mb": round(os.path.getsize(path) / 2**20, 1),
            "ready_s": round(t_ready, 3), "server_reported_start_s": float(target.ready_line[2]),
            "all_rooms_accepting_s": round(t_all, 3), "rss_mb": round(rss / 2**20, 1)}


def in_process_load(rooms: int, minutes: float, directory: str, secret: bytes = b"") -> dict:
    """Where restart time goes: Hub.load alone (read, snapshots, decode, fold), in this process
    (with the secret the record's snapshots were sealed with, or they go unused)."""
    from server.clock import RealClock
    from server.hub import Hub
    path = os.path.join(directory, "restart.db")
    if not os.path.exists(path):
        build_record(path, rooms, minutes, secret)
    rec = Record(path)
    hub = Hub(rec, RealClock(), secret)
    t0 = time.perf_counter()
    n = hub.load()
    t_load = time.perf_counter() - t0
    rec.close()
    return {"events_folded": n, "hub_load_s": round(t_load, 3),
            "rooms_from_snapshot": sum(1 for h in hub.rooms.values() if h.snap_seq)}


def tmpdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="bench-figures-")
