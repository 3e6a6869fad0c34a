"""Slow and greedy clients: a reader that stops, a flooder, thousands of silent connections.

Against a real server process (quick: `campaigns.serve` with a 1 s hello timeout
and a 64-frame send queue; full: `session-server serve` as shipped):
  * a staff console stops reading while its room is busy: the server cuts it
    loose within a bounded time, and the others' p99 command latency during
    the stall stays where it was before;
  * a participant fires hundreds of commands at once: beyond the burst of 40
    and 20 a second, every one is answered `rate_limited`, and the room's
    other people do not notice;
  * 5,000 connections (200 in --quick) open a websocket and never say hello:
    each is closed 1008 once the hello timeout passes, while a normal client
    still joins and works. (Full run: some raw TCP connections that never even
    finish the HTTP upgrade, closed by the websocket library's open timeout.)
"""
from __future__ import annotations

import asyncio
import random
import shutil
import socket
import time

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from campaigns.common import HOST, Figures, ServerProcess, percentile, raise_fd_limit, workdir
from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack, Error
from server.client import SessionClient

LONG = "x" * 1500


class Busy:
    """A room kept busy by a facilitator and participants; latencies per phase."""

    def __init__(self, srv: ServerProcess, room: str, participants: int, seed: int):
        self.srv, self.room = srv, room
        self.rng = random.Random(seed)
        self.f = SessionClient(srv.url, srv.token(room, "facilitator", "f1", "Dana"), name="f1")
        self.ps = [SessionClient(srv.url, srv.token(room, "participant", f"p{i}", f"P{i}"), name=f"p{i}",
                                 binary=i % 2 == 0) for i in range(participants)]
        self.lat: dict[str, list[float]] = {}
        self.phase = "warmup"
        self.stop = asyncio.Event()
        self.errors: list[str] = []

    async def start(self) -> None:
        await self.f.connect()
        await self.f.command(c.Configure(title="busy", auto_admit=True,
                                         roster=[c.RosterEntry(id=p.name, name=p.name.upper()) for p in self.ps]))
        await self.f.command(c.Open())
        for p in self.ps:
            await p.connect()

    async def person(self, cl: SessionClient, pace: float) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            cmd = c.Chat(text=f"{n} {LONG}") if cl is not self.f else c.Note(target="p0", text=f"{n} {LONG}")
            t0 = time.perf_counter()
            try:
                r = await cl.command(cmd, timeout=30)
            except Exception as exc:       # noqa: BLE001
                if not self.stop.is_set():   # a command cut off by the story's own close is no failure
                    self.errors.append(f"{cl.name}: {exc!r}")
                return
            self.lat.setdefault(self.phase, []).append(time.perf_counter() - t0)
            if not isinstance(r, Ack):
                self.errors.append(f"{cl.name}: {r.code}")
            await asyncio.sleep(self.rng.uniform(pace * 0.5, pace * 1.5))

    def run(self, pace: float = 0.08) -> list[asyncio.Task]:
        return [asyncio.create_task(self.person(cl, pace)) for cl in [self.f, *self.ps]]

    async def close(self) -> None:
        self.stop.set()
        for cl in [self.f, *self.ps]:
            try:
                await cl.close()
            except Exception:          # noqa: BLE001
                pass


async def slow_reader(fig: Figures, srv: ServerProcess, quick: bool, phase_s: float, bound_s: float) -> None:
    busy = Busy(srv, "slow-room", 4, fig.seed)
    await busy.start()
    tasks = busy.run()
    await asyncio.sleep(1.0)
    busy.phase = "before"
    await asyncio.sleep(phase_s)
    # the sloth: a staff console that reads its welcome and then nothing more
    # a small receive window, as on a poor mobile link; then it stops reading
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (HOST, srv.port))
    ws = await connect(srv.url, sock=sock, max_size=None, ping_interval=None, max_queue=1)
    await ws.send(msgspec.msgpack.encode({"t": "hello", "token": srv.token("slow-room", "observer", "sloth", "S"),
                                          "protocol": 1}))
    await ws.recv()
    ws.transport.pause_reading()
    t0 = time.monotonic()
    busy.phase = "stalled"
    cut = None
    marker = len(busy.f.events)
    while time.monotonic() - t0 < bound_s + 30:
        await asyncio.sleep(0.05)
        for fr in busy.f.events[marker:]:
            if isinstance(fr.ev, e.StaffLeft) and fr.ev.person == "sloth":
                cut = time.monotonic() - t0
        marker = len(busy.f.events)
        if cut is not None:
            break
    stalled_for = time.monotonic() - t0
    busy.phase = "after"
    await asyncio.sleep(min(phase_s, 3.0))
    await busy.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    ws.transport.abort()
    fig.counts["slow_reader_cut_after_s"] = round(cut, 2) if cut is not None else None
    fig.check(cut is not None and cut <= bound_s,
              f"a client that stopped reading was not cut loose within {bound_s} s (after {stalled_for:.1f} s: "
              f"{'cut at %.1f s' % cut if cut else 'still connected'})")
    b, s = busy.lat.get("before", []), busy.lat.get("stalled", [])
    fig.counts["others_p99_before_ms"] = round(percentile(b, 99) * 1000, 2)
    fig.counts["others_p99_while_stalled_ms"] = round(percentile(s, 99) * 1000, 2)
    fig.counts["others_median_before_ms"] = round(percentile(b, 50) * 1000, 2)
    fig.counts["others_median_while_stalled_ms"] = round(percentile(s, 50) * 1000, 2)
    fig.counts["others_commands"] = len(b) + len(s)
    pb, ps_ = percentile(b, 99), percentile(s, 99)
    fig.check(ps_ <= max(pb * 1.5, pb + 0.010),
              f"the others' p99 moved from {pb * 1000:.1f} ms to {ps_ * 1000:.1f} ms while a client stalled")
    for err in busy.errors[:5]:
        fig.fail(f"busy room: {err}")


async def flooder(fig: Figures, srv: ServerProcess, n: int) -> None:
    busy = Busy(srv, "flood-room", 2, fig.seed + 1)
    await busy.start()
    tasks = busy.run(pace=0.05)
    await asyncio.sleep(0.5)
    busy.phase = "before"
    await asyncio.sleep(2.0)
    fl = SessionClient(srv.url, srv.token("flood-room", "participant", "greedy", "G"), name="greedy")
    await fl.connect()
    busy.phase = "flood"
    t0 = time.monotonic()
    cmds = [c.RaiseHand() if i % 2 == 0 else c.LowerHand() for i in range(n)]
    results = await asyncio.gather(*(fl.command(x, timeout=60) for x in cmds), return_exceptions=True)
    elapsed = time.monotonic() - t0
    await asyncio.sleep(1.0)
    await fl.close()
    await busy.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    limited = sum(1 for r in results if isinstance(r, Error) and r.code == "rate_limited")
    served = sum(1 for r in results if isinstance(r, (Ack, Error)) and not (isinstance(r, Error) and r.code == "rate_limited"))
    lost = sum(1 for r in results if isinstance(r, BaseException))
    fig.counts.update(flood_sent=n, flood_served=served, flood_rate_limited=limited, flood_unanswered=lost,
                      flood_seconds=round(elapsed, 2))
    fig.check(lost == 0, f"{lost} flooding commands got no answer")
    fig.check(limited > 0, "a flooding client was never rate-limited")
    fig.check(served <= 40 + 20 * elapsed + 5,
              f"{served} commands were served in {elapsed:.2f} s: more than a burst of 40 and 20/s")
    b, f_ = busy.lat.get("before", []), busy.lat.get("flood", [])
    fig.counts["flood_others_p99_before_ms"] = round(percentile(b, 99) * 1000, 2)
    fig.counts["flood_others_p99_during_ms"] = round(percentile(f_, 99) * 1000, 2)


async def half_open(fig: Figures, srv: ServerProcess, n: int, raw: int, timeout_s: float) -> None:
    raise_fd_limit(2 * (n + raw) + 2000)
    sem = asyncio.Semaphore(200)
    lifetimes: list[float] = []
    codes: dict = {}
    failures: list[str] = []

    async def silent(i: int) -> None:
        async with sem:
            try:
                ws = await connect(srv.url, ping_interval=None, open_timeout=60, close_timeout=5)
            except Exception as exc:   # noqa: BLE001
                failures.append(f"open: {exc!r}")
                return
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(ws.recv(), timeout_s + 30)
            failures.append("the server sent something before a hello")
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            codes[code] = codes.get(code, 0) + 1
            lifetimes.append(time.monotonic() - t0)
        except (asyncio.TimeoutError, TimeoutError):
            failures.append("never closed")
            ws.transport.abort()

    async def raw_tcp(i: int) -> None:
        async with sem:
            try:
                r, w = await asyncio.open_connection(HOST, srv.port)
            except OSError as exc:
                failures.append(f"raw open: {exc!r}")
                return
        t0 = time.monotonic()
        try:
            data = await asyncio.wait_for(r.read(), 10 + 30)
            codes["raw_closed"] = codes.get("raw_closed", 0) + 1
            fig.counts["raw_tcp_max_lifetime_s"] = round(max(fig.counts.get("raw_tcp_max_lifetime_s", 0),
                                                             time.monotonic() - t0), 2)
            del data
        except (asyncio.TimeoutError, TimeoutError):
            failures.append("a raw TCP connection that never upgraded was never closed")
        finally:
            w.close()

    t0 = time.monotonic()
    tasks = [asyncio.create_task(silent(i)) for i in range(n)] + [asyncio.create_task(raw_tcp(i)) for i in range(raw)]
    # meanwhile a normal participant of a normal room joins and works
    await asyncio.sleep(min(2.0, timeout_s / 2))
    ok = SessionClient(srv.url, srv.token("half-open-room", "facilitator", "hf", "H"))
    t1 = time.perf_counter()
    try:
        await ok.connect(timeout=30)
        r = await ok.command(c.Configure(title="still here"), timeout=30)
        fig.counts["normal_client_during_flood_ms"] = round((time.perf_counter() - t1) * 1000, 1)
        fig.check(isinstance(r, Ack), f"a normal client was refused during the half-open flood: {r!r}")
    except Exception as exc:           # noqa: BLE001
        fig.fail(f"a normal client could not work during the half-open flood: {exc!r}")
    finally:
        await ok.close()
    await asyncio.gather(*tasks)
    fig.counts.update(half_open=n, raw_tcp=raw, half_open_closed=dict(sorted((str(k), v) for k, v in codes.items())),
                      half_open_seconds=round(time.monotonic() - t0, 1))
    if lifetimes:
        fig.counts["half_open_lifetime_min_s"] = round(min(lifetimes), 2)
        fig.counts["half_open_lifetime_max_s"] = round(max(lifetimes), 2)
    for f in failures[:5]:
        fig.fail(f"half-open: {f}")
    if len(failures) > 5:
        fig.fail(f"half-open: ... {len(failures) - 5} more")
    fig.check(codes.get(1008, 0) == n, f"{codes.get(1008, 0)} of {n} silent connections were closed with 1008")
    fig.check(not lifetimes or (min(lifetimes) >= timeout_s - 0.5 and max(lifetimes) <= timeout_s + 5),
              f"silent connections lived {min(lifetimes or [0]):.1f}-{max(lifetimes or [0]):.1f} s "
              f"for a hello timeout of {timeout_s} s")


async def campaign(fig: Figures, quick: bool, half: int | None) -> None:
    wd = workdir("slow")
    if quick:
        fig.counts["limits"] = "slow reader: keepalive ping every 2 s, 2 s timeout; half-open: hello timeout 1 s"
    parts = [
        ("slow_reader", {"ping_interval": 2.0, "ping_timeout": 2.0} if quick else None,
         lambda srv: slow_reader(fig, srv, quick, phase_s=3.0 if quick else 10.0, bound_s=16.0 if quick else 60.0)),
        ("flood", None, lambda srv: flooder(fig, srv, 300 if quick else 1000)),
        ("half_open", {"hello_timeout": 1.0} if quick else None,
         lambda srv: half_open(fig, srv, half or (200 if quick else 5000), 0 if quick else 200,
                               1.0 if quick else 10.0)),
    ]
    try:
        for name, limits, part in parts:
            d = f"{wd}/{name}"
            __import__("os").mkdir(d)
            srv = ServerProcess(d, limits=limits).start()
            try:
                await part(srv)
                fig.check(srv.alive(), f"the server died during {name}")
            finally:
                srv.stop()
    finally:
        if not fig.failures:
            shutil.rmtree(wd, ignore_errors=True)
        else:
            fig.counts["workdir"] = wd


def run(args) -> int:
    fig = Figures("slow", args.seed, args.quick)
    asyncio.run(campaign(fig, args.quick, args.half_open))
    return fig.emit()


def add_arguments(p) -> None:
    p.add_argument("--half-open", type=int, help="silent connections (default 5000; 200 with --quick)")
