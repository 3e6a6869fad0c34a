"""The fuzz campaign's fuzzers: pools of bad frames made and classified before the run, a
budget that paces them, connections that send them in bursts and check every answer,
and garbage sent as the very first frame (campaigns/badframes.py makes the frames)."""
from __future__ import annotations

import asyncio
import random
import time

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from campaigns import badframes as bf
from campaigns.common import Figures, ServerProcess
from campaigns.probe import PROBE_PEOPLE
from protocol.frames import ERROR_CODES, Ack, Error, EventFrame, Pong, Welcome, decode_client, decode_server

GARBAGE_LIMIT = 10
FUZZ_ROOMS = ["fuzz-a", "fuzz-b"]


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

