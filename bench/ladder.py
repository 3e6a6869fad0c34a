"""The sustained-load search: the most rooms each kind serves with p99 under the limit.

Several kinds (the project and the relay; or SQLite, PostgreSQL, two servers)
climb together, alternating at each round, so the machine's moods fall on
both. Each kind's search is its own: coarse steps up (the settings' `steps`,
each about 1.6 times the last) until one fails, then bisection between the
last sustained step and the first failed one until they are within
`resolution` of each other. A later climb starts from the previous climb's
answer and steps by `resolution` squared up or down before it bisects, so
three climbs cost little more than one and a half.

The generator's own CPU is kept with every step: when it nears a whole core
the figure is the generator's ceiling, not the server's, and the step says so.
"""
from __future__ import annotations

import math
import statistics
import sys
import time

from bench.load import run_once as _run_once
from bench.load import sustained

LIMIT_MS = 100.0
GENERATOR_SATURATED_PCT = 85.0     # of one core: beyond this the generator, not the server, sets the pace


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def run_once(kind: str, rooms: int, seconds: float, rate: float, seed: int, bursts: bool = True,
                   **kw) -> dict:
    """One run; a run that could not even set its rooms up counts as a failed step, not a crash."""
    try:
        return await _run_once(kind, rooms, seconds, rate, seed=seed, bursts=bursts, **kw)
    except Exception as exc:   # noqa: BLE001 - reported in the JSON
        log(f"{kind} at {rooms} rooms failed: {type(exc).__name__}: {exc}")
        nan = float("nan")
        return {"rooms": rooms, "connections": rooms * 12, "failed": f"{type(exc).__name__}: {exc}",
                "latency_ms": {"p50": nan, "p99": nan, "max": nan}, "delivered_events_per_s": 0.0,
                "by_kind_p99_ms": {}, "errors": {"run_failed": 1}, "skipped": 0, "unmatched": 0,
                "commands": 1, "server_cpu_pct": nan, "loadgen_cpu_pct": nan, "rss_per_connection_kb": nan,
                "rss_empty_mb": nan, "rss_held_mb": nan, "setup_s": nan}


def brief(r: dict) -> dict:
    out = {"rooms": r["rooms"], "p50_ms": r["latency_ms"]["p50"], "p99_ms": r["latency_ms"]["p99"],
           "max_ms": r["latency_ms"]["max"], "delivered_events_per_s": r["delivered_events_per_s"],
           "server_cpu_pct": r["server_cpu_pct"], "loadgen_cpu_pct": r["loadgen_cpu_pct"],
           "errors": sum(r["errors"].values()) + r["skipped"] + r["unmatched"], "ok": sustained(r, LIMIT_MS)}
    for k in ("server_cpu_each_pct", "postgres_cpu_pct"):     # with several servers, or PostgreSQL
        if r.get(k) is not None and (k != "server_cpu_each_pct" or len(r[k]) > 1):
            out[k] = r[k]
    if (r.get("loadgen_cpu_pct") or 0) >= GENERATOR_SATURATED_PCT:
        out["generator_saturated"] = True
    return out


def spread(xs: list[float]) -> dict:
    """Median and spread of repeats (NaN, a failed run, left out)."""
    xs = [x for x in xs if x is not None and x == x]
    if not xs:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3),
            "n": len(xs)}


def fixed_summary(runs: list[dict]) -> dict:
    med = lambda f: round(statistics.median(f(r) for r in runs), 2)
    return {
        "rooms": runs[0]["rooms"], "connections": runs[0]["connections"], "repeats": len(runs),
        "delivered_events_per_s": med(lambda r: r["delivered_events_per_s"]),
        "latency_ms": {"p50": med(lambda r: r["latency_ms"]["p50"]), "p99": med(lambda r: r["latency_ms"]["p99"]),
                       "max": med(lambda r: r["latency_ms"]["max"])},
        "server_cpu_pct": med(lambda r: r["server_cpu_pct"]),
        "rss_per_connection_kb": med(lambda r: r["rss_per_connection_kb"]),
        "rss_held_mb": med(lambda r: r["rss_held_mb"]),
        "by_kind_p99_ms": runs[len(runs) // 2]["by_kind_p99_ms"],
        "runs": [brief(r) for r in runs],
    }


def first_step(runs: list[dict]) -> dict:
    """The fixed load's repeats as the ladder's first step: the median repeat by p99, sustained
    when most repeats were (and the median p99 is under the limit)."""
    by_p99 = sorted(runs, key=lambda r: (r["latency_ms"]["p99"] != r["latency_ms"]["p99"], r["latency_ms"]["p99"]))
    b = brief(by_p99[(len(by_p99) - 1) // 2])
    b["ok"] = sum(sustained(r, LIMIT_MS) for r in runs) * 2 > len(runs) and b["p99_ms"] <= LIMIT_MS
    b["fixed_load_repeats"] = len(runs)
    return b


def _nice(x: float) -> int:
    """Room counts of two significant figures (130, 210, 1,300): steps a reader can compare."""
    if x < 10:
        return max(1, int(round(x)))
    mag = 10 ** (int(math.log10(x)) - 1)
    return int(round(x / mag) * mag)


class Search:
    """One kind's search for its highest sustained step."""

    def __init__(self, first: dict, steps: list[int], resolution: float, start: int | None = None,
                 max_rooms: int | None = None):
        self.resolution = resolution
        self.steps = [first]            # briefs, in the order run
        top = steps[-1] if steps else first["rooms"]
        self.max_rooms = min(max_rooms or top, top)
        steps = [n for n in steps if n <= self.max_rooms]
        self.lo, self.hi = 0, None      # highest sustained, lowest failed
        self.warm = bool(start)
        if start:                        # a later climb: from the previous answer
            self.coarse: list[int] = []
            self.next = start
        else:
            if first["ok"]:
                self.lo = first["rooms"]
            else:
                self.hi = first["rooms"]
            self.coarse = [s for s in steps if s > first["rooms"]]
            self.next = self._after()
        self.stopped = ""

    def _after(self) -> int | None:
        lo, hi = self.lo, self.hi
        if hi is None:
            if self.coarse:
                return self.coarse.pop(0)
            if lo >= self.max_rooms:
                self.stopped = "highest step sustained"
                return None
            return min(self.max_rooms, max(lo + 1, _nice(lo * self.resolution ** 2)))
        if lo == 0:
            n = min(hi - 1, _nice(hi / self.resolution ** 2)) if self.warm else hi // 2
            return n if n >= 1 else None
        if hi <= lo * self.resolution:
            self.stopped = "limit passed"
            return None
        mid = _nice(math.sqrt(lo * hi))
        if not lo < mid < hi:
            self.stopped = "limit passed"
            return None
        return mid

    def record(self, b: dict) -> None:
        self.steps.append(b)
        n = b["rooms"]
        if b["ok"]:
            self.lo = max(self.lo, n)
        else:
            self.hi = n if self.hi is None else min(self.hi, n)
            self.coarse = []
        self.next = self._after()
        if self.next is None and not self.stopped:
            self.stopped = "limit passed" if self.hi else "highest step sustained"


async def ladder(kinds, runner, cfg: dict, steps: list[int], first: dict, deadline: float, flip: int,
                 start: dict | None = None) -> tuple:
    """Each kind searches, the kinds alternating at each round (the order flips each round and
    climb). `first` is each kind's brief at the fixed load; `start` a previous climb's answers.
    Returns (best rooms, steps, stopped_by) per kind."""
    res = cfg.get("resolution", 1.15)
    s = {k: Search(first[k], steps, res, (start or {}).get(k), cfg.get("max_rooms")) for k in kinds}
    j = 0
    while any(x.next is not None for x in s.values()):
        order = list(kinds) if (j + flip) % 2 == 0 else list(kinds)[::-1]
        for k in order:
            n = s[k].next
            if n is None:
                continue
            if time.monotonic() > deadline:
                s[k].next, s[k].stopped = None, "time budget spent"
                continue
            log(f"step: {k}, {n} rooms")
            b = brief(await runner(k, n, 101 + j + 1000 * flip))
            s[k].record(b)
        j += 1
    return ({k: s[k].lo for k in kinds}, {k: s[k].steps for k in kinds},
            {k: s[k].stopped or "highest step sustained" for k in kinds})


async def climbs(kinds, runner, cfg: dict, steps: list[int], first: dict, budget_s: float, repeats: int) -> list:
    """`repeats` climbs, each starting from the one before, sharing the time budget."""
    deadline = time.monotonic() + budget_s
    out: list[tuple] = []
    for n in range(repeats):
        share = time.monotonic() + (deadline - time.monotonic()) / (repeats - n)
        start = {k: v for k, v in out[-1][0].items() if v} if out else None
        out.append(await ladder(kinds, runner, cfg, steps, first, share, flip=n, start=start))
    return out
