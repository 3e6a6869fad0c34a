"""Bad input campaign: a million bad frames from many connections beside a live group.

A real `session-server serve` process; a probe group (a facilitator and four
participants in their own process) plays a fixed, checked routine of hands,
turns, chat, notes and polls, first alone (the quiet run), then while many
fuzzing connections send truncated and random MessagePack and JSON, wrong
types, unknown message types, huge strings and arrays, deep nesting, lying
length headers, frames over 64 KiB, a second hello, commands naming another
room's people, and well-formed commands the room does not allow now.

Checked: the server never dies; every frame is answered in order with a
typed error (an `invalid` one for undecodable frames) or an ack, and the
tenth consecutive undecodable frame closes the connection with 1008 (a frame
over 64 KiB: 1009); the probe's every step succeeds and its median latency
stays within 20 % of the quiet run; the server's RSS levels off.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import shutil
import statistics
import time

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from campaigns import badframes as bf
from campaigns.common import Figures, ServerProcess, percentile, rss_kib, workdir
from protocol import commands as c
from protocol.frames import ERROR_CODES, Ack, Error, EventFrame, Pong, Welcome, decode_client, decode_server
from server.client import SessionClient

GARBAGE_LIMIT = 10
PROBE_ROOM = "probe-room"
PROBE_PEOPLE = ["pp1", "pp2", "pp3", "pp4"]
FUZZ_ROOMS = ["fuzz-a", "fuzz-b"]


# --- the probe: a small group whose every step must succeed ---------------------------

async def _probe(url: str, tokens: dict, stop, pace: float, seed: int) -> dict:
    rng = random.Random(seed)
    f = SessionClient(url, tokens["f"], name="pf")
    ps = {pid: SessionClient(url, tokens[pid], name=pid, binary=i % 2 == 0) for i, pid in enumerate(PROBE_PEOPLE)}
    samples: list[tuple[float, float]] = []
    failures: list[str] = []
    await f.connect()
    for cl in ps.values():
        await cl.connect()
    await f.sync()

    async def step(cl, cmd):
        t0 = time.perf_counter()
        r = await cl.command(cmd, timeout=20)
        samples.append((time.monotonic(), time.perf_counter() - t0))
        if not isinstance(r, Ack):
            failures.append(f"{type(cmd).__name__}: {r.code} {r.message}")
        return r

    n = 0
    while not stop.is_set():
        n += 1
        pid = PROBE_PEOPLE[n % len(PROBE_PEOPLE)]
        p = ps[pid]
        routine = [(p, c.RaiseHand()), (f, c.NextSpeaker()), (p, c.Chat(text=f"probe line {n}")),
                   (f, c.EndTurn()), (f, c.Note(target=pid, text=f"probe note {n}"))]
        if n % 5 == 0:
            poll = f"probe-{seed}-{n}"
            routine += [(f, c.PollCreate(id=poll, question="How are you?", kind="scale", min=0, max=10)),
                        (f, c.PollOpen(id=poll)), (p, c.Vote(id=poll, value=rng.randint(0, 10))),
                        (f, c.PollClose(id=poll)), (f, c.PollShare(id=poll))]
        for cl, cmd in routine:
            await step(cl, cmd)
            await asyncio.sleep(pace)
    await f.sync()
    for cl in [f, *ps.values()]:
        await cl.close()
    return {"samples": samples, "failures": failures}


def probe_process(url: str, tokens: dict, stop, out, pace: float, seed: int) -> None:
    """The probe in its own process, so that the fuzzers' CPU does not count as server latency."""
    try:
        out.put(asyncio.run(_probe(url, tokens, stop, pace, seed)))
    except BaseException as exc:      # noqa: BLE001
        out.put({"samples": [], "failures": [f"the probe crashed: {exc!r}"]})


# --- the fuzzers ---------------------------------------------------------------------

class Budget:
    def __init__(self, frames: int, rate: float | None):
        self.left = frames
        self.rate = rate
        self.t0 = time.monotonic()
        self.sent = 0
        self.gate = asyncio.Event()      # fuzzing is on while set; quiet windows clear it
        self.gate.set()
        self.quiet_for = 0.0

    def pause(self) -> None:
        self.gate.clear()
        self.paused_at = time.monotonic()

    def resume(self) -> None:
        self.quiet_for += time.monotonic() - self.paused_at
        self.t0 += time.monotonic() - self.paused_at     # the rate counts fuzzing time only
        self.gate.set()

    async def take(self, n: int) -> int:
        await self.gate.wait()
        n = min(n, self.left)
        self.left -= n
        self.sent += n
        if self.rate:
            ahead = self.sent / self.rate - (time.monotonic() - self.t0)
            if ahead > 0:
                await asyncio.sleep(ahead)
        return n


def _classify(data) -> tuple[bool, str | None]:
    """(garbage, why) as the server's decoder sees the frame."""
    try:
        decode_client(data)
        return False, None
    except (msgspec.ValidationError, msgspec.DecodeError):
        return True, None
    except RecursionError:
        return True, "recursion"
    except Exception as exc:                      # noqa: BLE001 - anything else is itself a finding
        return True, type(exc).__name__


POOLS: dict[str, list] = {}


def make_pools(seed: int, size: int, without: set[str]) -> int:
    rng = random.Random(seed)
    gens = [g for g in bf.GARBAGE if g.__name__ not in without]
    pools = {"garbage": [], "other_room": [], "wrong_state": [], "second_hello": []}
    for i in range(size):
        kind, data, _ = gens[i % len(gens)](rng)
        pools["garbage"].append((kind, data, *_classify(data)))
    for i in range(max(50, size // 10)):
        for name, gen in (("other_room", lambda r: bf.other_room(r, PROBE_PEOPLE)),
                          ("wrong_state", bf.wrong_state), ("second_hello", bf.second_hello)):
            kind, data, _ = gen(rng)
            pools[name].append((kind, data, *_classify(data)))
    POOLS.clear()
    POOLS.update(pools)
    return sum(len(v) for v in pools.values())


class Fuzzer:
    def __init__(self, fig: Figures, srv: ServerProcess, budget: Budget, seed: int, probe_targets: list[str],
                 without: set[str] = frozenset()):
        self.fig, self.srv, self.budget = fig, srv, budget
        self.valid = "valid" not in without
        self.pools = POOLS
        self.rng = random.Random(seed)
        self.targets = probe_targets
        self.secret = srv.secret()

    def frame(self):
        """A frame from the pools: made and classified once, before the run, so that
        the fuzzers' own CPU (on a 2-core machine) is spent sending, not composing."""
        rng = self.rng
        r = rng.random()
        if r < 0.90 or not self.valid:
            return rng.choice(self.pools["garbage"])
        if r < 0.93:
            return rng.choice(self.pools["other_room"])
        if r < 0.98:
            return rng.choice(self.pools["wrong_state"])
        return rng.choice(self.pools["second_hello"])

    async def run(self, idx: int, deadline: float) -> None:
        fig, rng = self.fig, self.rng
        while self.budget.left > 0 and time.monotonic() < deadline:
            room = rng.choice(FUZZ_ROOMS)
            role = rng.choice(["facilitator", "cofacilitator", "observer", "participant"])
            pid = f"fz{idx}-{rng.randrange(4)}" if role == "participant" else f"fz{idx}-{role[:3]}"
            token = self.srv.token(room, role, pid, f"Fuzzer {idx}")
            binary = rng.random() < 0.5
            try:
                ws = await connect(self.srv.url, max_size=None, ping_interval=None, open_timeout=20,
                                   close_timeout=5)
            except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
                fig.fail(f"fuzzer {idx} could not connect: {exc!r}", "connect_failed")
                await asyncio.sleep(0.5)
                continue
            fig.add("connections")
            try:
                hello = {"t": "hello", "token": token, "protocol": 1}
                await ws.send(msgspec.msgpack.encode(hello) if binary else msgspec.json.encode(hello).decode())
                w = decode_server(await asyncio.wait_for(ws.recv(), 20))
                if not isinstance(w, Welcome):
                    fig.fail(f"fuzzer {idx}: hello answered {w!r}", "hello_refused")
                    continue
                await self.session(ws, idx)
            except ConnectionClosed as exc:
                fig.fail(f"fuzzer {idx}: connection closed unexpectedly ({exc.rcvd.code if exc.rcvd else None})",
                         "unexpected_close")
            except (TimeoutError, asyncio.TimeoutError):
                fig.fail(f"fuzzer {idx}: no answer within 20 s", "no_answer")
            finally:
                await ws.close()

    async def _next_answer(self, ws, counts: dict):
        while True:
            f = decode_server(await asyncio.wait_for(ws.recv(), 20))
            if isinstance(f, (EventFrame, Welcome)):
                counts["events"] += 1
                continue
            return f

    async def session(self, ws, idx: int) -> None:
        fig, rng = self.fig, self.rng
        counts = {"events": 0}
        consecutive = 0
        while self.budget.left > 0:
            if rng.random() < 0.002:
                kind, data, _ = bf.over_limit(rng)
                await self.budget.take(1)
                fig.add("frames")
                fig.add("frames_over_limit")
                await ws.send(data)
                try:
                    while True:
                        await self._next_answer(ws, counts)
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd else None
                    fig.add(f"closed_{code}")
                    fig.check(code == 1009, f"a frame over 64 KiB closed the connection with {code}, not 1009")
                return
            # mostly bursts the server answers one by one; now and then a run of
            # garbage long enough that the server must close the connection (1008)
            garbage_run = rng.random() < 0.04
            n = await self.budget.take(GARBAGE_LIMIT if garbage_run else rng.randint(1, GARBAGE_LIMIT - 1))
            if n == 0:
                return
            burst = []
            close_at = None
            for i in range(n):
                kind, data, garbage, why = rng.choice(self.pools["garbage"]) if garbage_run else self.frame()
                consecutive = consecutive + 1 if garbage else 0
                burst.append((kind, data, garbage, why))
                if consecutive >= GARBAGE_LIMIT:
                    close_at = i
                    break
            for kind, data, garbage, why in burst:
                await ws.send(data)
                fig.add("frames")
                fig.add(f"frames_{kind}")
            if close_at is None:
                await ws.send(msgspec.msgpack.encode({"t": "ping", "id": 7}))
                consecutive = 0
            # Undecodable frames are answered at once, in order; well-formed commands once
            # their refusal is recorded (the gateway reads on meanwhile), so a pong may
            # overtake them: count answers, do not pair them by position.
            want = len(burst)
            garbage_n = sum(1 for x in burst if x[2])
            answers: list = []
            pong = close_at is not None
            try:
                while len(answers) < want or not pong:
                    a = await self._next_answer(ws, counts)
                    if isinstance(a, Pong):
                        if pong:
                            fig.fail("a second pong", "odd_answer")
                        pong = True
                    else:
                        answers.append(a)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                fig.add(f"closed_{code}")
                if close_at is not None and code == 1008 and len(answers) >= garbage_n:
                    fig.add("closed_after_garbage")
                    return
                why = next((x[3] for x in burst if x[3]), None)
                fig.fail(f"a burst of {[x[0] for x in burst]} closed the connection with {code} "
                         f"{exc.rcvd.reason if exc.rcvd else ''!r} after {len(answers)} answers",
                         f"closed_{code}_by_{why or 'burst'}")
                return
            invalid = 0
            for a in answers:
                if isinstance(a, Error):
                    fig.add(f"errors_{a.code}")
                    if a.code not in ERROR_CODES:
                        fig.fail(f"untyped error code {a.code!r}", "untyped_error")
                    invalid += a.code == "invalid"
                    if a.code == "invalid" and "$" in a.message:
                        fig.add("errors_naming_a_field")
                elif isinstance(a, Ack):
                    fig.add("acks")
                else:
                    fig.fail(f"answered with {type(a).__name__}", "odd_answer")
            if invalid < garbage_n:
                fig.fail(f"{garbage_n} undecodable frames got only {invalid} `invalid` answers", "wrong_code")
            if close_at is not None:
                try:
                    a = await self._next_answer(ws, counts)
                    fig.fail(f"after {GARBAGE_LIMIT} malformed frames the server still answered {a!r}",
                             "no_1008")
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd else None
                    fig.add(f"closed_{code}")
                    fig.check(code == 1008, f"{GARBAGE_LIMIT} malformed frames closed with {code}, not 1008")
                return


async def bad_hellos(fig: Figures, srv: ServerProcess, per_kind: int) -> None:
    """Garbage as the very first frame: a typed `invalid` error, then close 1008."""
    for kind, entries in _by_kind(POOLS["garbage"]).items():
        for kind, data, garbage, why in entries[:per_kind]:
            fig.add("bad_hellos")
            try:
                async with connect(srv.url, max_size=None, ping_interval=None, close_timeout=5) as ws:
                    await ws.send(data)
                    try:
                        a = decode_server(await asyncio.wait_for(ws.recv(), 10))
                        if not garbage:
                            continue          # a well-formed frame that is not a hello
                        fig.check(isinstance(a, Error) and a.code == "invalid",
                                  f"a {kind} hello was answered {a!r}")
                        await asyncio.wait_for(ws.recv(), 10)
                        fig.fail(f"the connection stayed open after a {kind} hello", "bad_hello_open")
                    except ConnectionClosed as exc:
                        code = exc.rcvd.code if exc.rcvd else None
                        fig.add(f"bad_hello_closed_{code}")
                        if code != 1008:
                            fig.fail(f"a {kind} hello ({why or 'garbage'}) closed the connection with {code}",
                                     f"bad_hello_closed_{code}_by_{why or kind}")
            except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
                fig.fail(f"a {kind} hello: {exc!r}", "bad_hello_error")


def _by_kind(entries: list) -> dict:
    out: dict = {}
    for x in entries:
        out.setdefault(x[0] + (f"-{x[3]}" if x[3] else ""), []).append(x)
    return out


async def _setup_rooms(srv: ServerProcess) -> None:
    for room, auto in [(PROBE_ROOM, True)] + [(r, False) for r in FUZZ_ROOMS]:
        f = SessionClient(srv.url, srv.token(room, "facilitator", "setup-f", "Setup"), name="setup")
        await f.connect()
        people = PROBE_PEOPLE if room == PROBE_ROOM else [f"fz{i}-{k}" for i in range(64) for k in range(4)]
        roster = [c.RosterEntry(id=p, name=p.upper()) for p in people[:200]]
        await f.command(c.Configure(title="campaign", auto_admit=auto, capacity=12, roster=roster))
        await f.command(c.Open())
        await f.close()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


async def _sample_rss(pid: int, out: list, stop: asyncio.Event) -> None:
    while not stop.is_set():
        out.append((time.monotonic(), rss_kib(pid)))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except (asyncio.TimeoutError, TimeoutError):
            pass


async def campaign(fig: Figures, frames: int, conns: int, rate: float | None, max_seconds: float,
                   without: set[str] = frozenset(), on_s: float = 4.0, off_s: float = 1.0) -> None:
    fig.counts["distinct_frames"] = make_pools(fig.seed, 4000 if frames <= 100_000 else 20_000, without)
    wd = workdir("fuzz")
    srv = ServerProcess(wd).start()
    ctx = multiprocessing.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    probe = None
    try:
        await bad_hellos(fig, srv, 5 if frames <= 100_000 else 50)
        await _setup_rooms(srv)
        toks = {"f": srv.token(PROBE_ROOM, "facilitator", "probe-f", "Probe Facilitator")}
        toks.update({p: srv.token(PROBE_ROOM, "participant", p, p.upper()) for p in PROBE_PEOPLE})
        probe = ctx.Process(target=probe_process, args=(srv.url, toks, stop, out, 0.04, fig.seed), daemon=True)
        probe.start()
        rss: list = []
        stop_rss = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(srv.pid, rss, stop_rss))
        budget = Budget(frames, rate)
        budget.pause()
        # The probe plays throughout; the fuzzers go quiet for `off_s` out of every
        # `on_s + off_s` seconds. Quiet and fuzzed latencies so come from the same
        # minutes of the same disk, not from two runs minutes apart.
        windows: list[tuple[float, float, str]] = []
        t = time.monotonic()
        await asyncio.sleep(2.0)            # the probe connects and warms up
        windows.append((t + 1.0, time.monotonic(), "quiet"))
        budget.resume()
        deadline = time.monotonic() + max_seconds
        fuzzers = [Fuzzer(fig, srv, budget, fig.seed * 1000 + i, PROBE_PEOPLE, without) for i in range(conns)]
        t0 = time.monotonic()
        cpu0 = cpu_seconds(srv.pid)
        tasks = [asyncio.create_task(fz.run(i, deadline)) for i, fz in enumerate(fuzzers)]
        all_done = asyncio.gather(*tasks)
        settle = 0.15                       # in-flight bursts finish; the disk catches up
        while not all_done.done():
            start = time.monotonic()
            await asyncio.wait([all_done], timeout=on_s)
            windows.append((start + settle, time.monotonic(), "fuzzed"))
            if all_done.done():
                break
            budget.pause()
            start = time.monotonic()
            await asyncio.sleep(off_s)
            windows.append((start + settle, time.monotonic(), "quiet"))
            budget.resume()
        await all_done
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(srv.pid) - cpu0
        start = time.monotonic()
        await asyncio.sleep(off_s)
        windows.append((start + settle, time.monotonic(), "quiet"))
        stop.set()
        result = await asyncio.get_running_loop().run_in_executor(None, out.get, True, 120)
        stop_rss.set()
        await sampler
        fuzzing = elapsed - budget.quiet_for
        fig.counts["fuzz_seconds"] = round(fuzzing, 1)
        fig.counts["frames_per_second"] = round(budget.sent / fuzzing)
        fig.counts["server_cpu_percent_while_fuzzing"] = round(100 * cpu / elapsed)
        fig.counts["fuzz_connections_parallel"] = conns
        fig.check(budget.left == 0, f"only {budget.sent} of {frames} frames were sent in {max_seconds} s")
        # the server is alive and serves a newcomer
        fig.check(srv.alive(), "the server process died")
        cl = SessionClient(srv.url, srv.token(PROBE_ROOM, "observer", "after", "After"))
        try:
            await cl.connect()
            await cl.sync()
            fig.add("served_after")
        except Exception as exc:        # noqa: BLE001
            fig.fail(f"a newcomer could not join after the fuzzing: {exc!r}")
        finally:
            await cl.close()
        # the probe group: every step succeeded; latency in fuzzed windows as in quiet ones
        for f in result["failures"][:5]:
            fig.fail(f"probe step failed: {f}")
        if len(result["failures"]) > 5:
            fig.fail(f"... and {len(result['failures']) - 5} more probe failures")
        lat = {"quiet": [], "fuzzed": []}
        for ts, v in result["samples"]:
            for a, b, kind in windows:
                if a <= ts <= b:
                    lat[kind].append(v)
                    break
        q, z = lat["quiet"], lat["fuzzed"]
        fig.counts["probe_quiet_steps"], fig.counts["probe_fuzzed_steps"] = len(q), len(z)
        if fig.check(len(q) >= 20 and len(z) >= 20, f"too few probe samples: {len(q)} quiet, {len(z)} fuzzed"):
            qm, bm = statistics.median(q), statistics.median(z)
            fig.counts["probe_quiet_median_ms"] = round(qm * 1000, 2)
            fig.counts["probe_fuzzed_median_ms"] = round(bm * 1000, 2)
            fig.counts["probe_quiet_p99_ms"] = round(percentile(q, 99) * 1000, 2)
            fig.counts["probe_fuzzed_p99_ms"] = round(percentile(z, 99) * 1000, 2)
            fig.counts["probe_median_ratio"] = round(bm / qm, 3)
            fig.check(bm <= qm * 1.2,
                      f"the probe's median latency rose from {qm * 1000:.2f} ms (quiet) to {bm * 1000:.2f} ms (fuzzed)")
        # memory levels off: the last quarter's peak is not far above the first quarter's
        if len(rss) >= 8:
            k = len(rss) // 4
            early = max(v for _, v in rss[:k])
            late = max(v for _, v in rss[-k:])
            fig.counts["rss_start_mib"] = round(rss[0][1] / 1024, 1)
            fig.counts["rss_first_quarter_peak_mib"] = round(early / 1024, 1)
            fig.counts["rss_last_quarter_peak_mib"] = round(late / 1024, 1)
            fig.counts["rss_peak_mib"] = round(max(v for _, v in rss) / 1024, 1)
            fig.check(late <= early * 1.25 + 20 * 1024,
                      f"RSS kept growing: {early / 1024:.0f} MiB -> {late / 1024:.0f} MiB")
        log = srv.log_tail(10**8)
        tracebacks = log.count("Traceback")
        fig.counts["server_log_tracebacks"] = tracebacks
        if tracebacks:
            i = log.find("Traceback")
            fig.fail(f"the server logged {tracebacks} tracebacks; first: {log[i:i + 600]!r}")
    finally:
        stop.set()
        if probe is not None:
            probe.join(10)
            if probe.is_alive():
                probe.kill()
        code = srv.stop()
        fig.counts["server_exit"] = code
        if not fig.failures:
            shutil.rmtree(wd, ignore_errors=True)
        else:
            fig.counts["workdir"] = wd


def run(args) -> int:
    fig = Figures("fuzz", args.seed, args.quick)
    frames = args.frames or (20_000 if args.quick else 1_000_000)
    conns = args.connections or (8 if args.quick else 32)
    without = set(filter(None, (args.without or "").split(",")))
    if without:
        fig.counts["without"] = sorted(without)
    rate = args.rate if args.rate is not None else 2000
    fig.counts["rate_limit_frames_per_second"] = rate
    asyncio.run(campaign(fig, frames, conns, rate or None, args.max_seconds or (120 if args.quick else 3000),
                         without))
    return fig.emit()


def add_arguments(p) -> None:
    p.add_argument("--frames", type=int, help="bad frames to send (default 1,000,000; 20,000 with --quick)")
    p.add_argument("--connections", type=int, help="fuzzing connections at once (default 32; 8 with --quick)")
    p.add_argument("--rate", type=float, help="frames per second at most (default 2000; 0: as fast as they go)")
    p.add_argument("--without", help="comma-separated frame kinds to leave out (e.g. deep; valid = all "
                                     "well-formed commands)")
    p.add_argument("--max-seconds", type=float)
