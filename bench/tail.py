"""What makes the project's tail: the load at a fixed number of rooms, with the server's stages timed.

    python -m bench.tail [--rooms 200] [--seconds 10] [--repeats 3] [--steady] [--against KEY=VALUE]

Each repeat runs the benchmark's load (bench/load.py) against the project's
server with BENCH_TRACE set (bench/trace.py), and prints the delivery latency
beside the server's own stage timings (queued, write, hand-off, fan-out, loop
lag, collector pauses), so a p99 can be laid against the stage that makes it.
Prints one JSON object: each repeat, and the medians over the repeats. With
`--against KEY=VALUE` each repeat is run twice, alternating, the second time
with that variable in the server's environment (a baseline in the same run,
e.g. BENCH_FRAME_WRITES=each: every frame its own write, as before
server/outbox.py), and the ratios of the medians are given.
"""
from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import statistics
import sys
import tempfile

from bench.load import Run


async def one(rooms: int, seconds: float, seed: int, bursts: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as d:
        os.environ["BENCH_TRACE"] = os.path.join(d, "trace")
        try:
            r = await Run("project", rooms, seconds, 1.0, seed=seed, bursts=bursts).execute()
        finally:
            os.environ.pop("BENCH_TRACE", None)
        traces = [json.load(open(p)) for p in glob.glob(os.path.join(d, "trace.*.json"))]
    return {"latency_ms": r["latency_ms"], "by_kind_p99_ms": r["by_kind_p99_ms"],
            "server_cpu_pct": r["server_cpu_pct"], "loadgen_cpu_pct": r["loadgen_cpu_pct"],
            "delivered_events_per_s": r["delivered_events_per_s"], "stages": traces[0] if traces else None}


def medians(runs: list[dict]) -> dict:
    med = lambda xs: round(statistics.median(xs), 2) if xs else None
    out = {"p50_ms": med([r["latency_ms"]["p50"] for r in runs]),
           "p99_ms": med([r["latency_ms"]["p99"] for r in runs]),
           "p99_ms_each": [r["latency_ms"]["p99"] for r in runs],
           "server_cpu_pct": med([r["server_cpu_pct"] for r in runs])}
    st = [r["stages"] for r in runs if r["stages"]]
    for k in ("queued", "write", "handoff", "fanout", "loop_lag", "batch_rows", "batch_commands",
              "sends_per_commit", "connections_per_commit"):
        for q in ("p50", "p99", "max"):
            out[f"{k}_{q}"] = med([s[k].get(q) for s in st if s[k].get(q) is not None])
    for g in ("gen1", "gen2"):
        out[f"gc_{g}_max_ms"] = med([s["gc_ms"][g].get("max", 0) for s in st])
        out[f"gc_{g}_n"] = med([s["gc_ms"][g]["n"] for s in st])
    return out


async def main_async(rooms: int, seconds: float, repeats: int, bursts: bool, against: str | None = None) -> dict:
    runs, base = [], []
    env = dict(kv.partition("=")[::2] for kv in against.split(",")) if against else {}
    for i in range(repeats):
        for variant in ((0, 1) if i % 2 == 0 else (1, 0)) if against else (0,):
            print(f"[bench.tail] {rooms} rooms, repeat {i + 1}/{repeats}" + (f", {against}" if variant else ""),
                  file=sys.stderr, flush=True)
            before = {k: os.environ.get(k) for k in env}
            if variant:
                os.environ.update(env)
            try:
                (base if variant else runs).append(await one(rooms, seconds, 11 + i, bursts))
            finally:
                for key, value in before.items() if variant else ():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value       # as it was: the baseline may set it too
    out = {"rooms": rooms, "seconds": seconds, "bursts": bursts, "loadavg_at_end": os.getloadavg(),
           "median": medians(runs), "runs": runs}
    if against:
        out["against"] = {"env": against, "median": medians(base), "runs": base}
        m, b = out["median"], out["against"]["median"]
        out["ratio_to_baseline"] = {k: round(m[k] / b[k], 3) for k in ("p50_ms", "p99_ms", "server_cpu_pct")
                                    if m.get(k) and b.get(k)}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.tail", description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steady", action="store_true", help="without the every-room bursts")
    ap.add_argument("--against", metavar="KEY=VALUE[,KEY=VALUE]",
                    help="alternate with a baseline: these in the server's environment")
    a = ap.parse_args(argv)
    print(json.dumps(asyncio.run(main_async(a.rooms, a.seconds, a.repeats, not a.steady, a.against)), indent=1))


if __name__ == "__main__":
    main()
