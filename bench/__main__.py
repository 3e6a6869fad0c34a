"""python -m bench [--quick] [--out FILE]: the project against a bare relay, and other figures.

Prints one JSON object (and writes it to FILE when given). See
docs/performance.md for what each figure means and how to read it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from importlib import metadata

from bench import figures
from bench.load import ROOT, sustained
from bench.load import run_once as _run_once

LIMIT_MS = 100.0

SETTINGS = {
    "quick": {"fixed_rooms": 10, "window_s": 5.0, "rate": 1.0, "repeats": 1, "steps": [25],
              "confirm": False, "step_budget_s": 25, "hold_rooms": 0, "hold_window_s": 0,
              "record_sizes": [1, 10, 100], "record_seconds": 0.3, "fold_rooms": 3, "fold_repeats": 1,
              "restart_rooms": 100, "restart_minutes": 5, "restart_long_minutes": 0, "console_presses": 40},
    "full": {"fixed_rooms": 40, "window_s": 10.0, "rate": 1.0, "repeats": 3,
             "steps": [60, 80, 100, 130, 160, 200, 250, 320, 400],
             "confirm": True, "step_budget_s": 330, "hold_rooms": 400, "hold_window_s": 30.0,
             "record_sizes": [1, 10, 100, 1000], "record_seconds": 2.0, "fold_rooms": 20, "fold_repeats": 3,
             "restart_rooms": 1000, "restart_minutes": 5, "restart_long_minutes": 30, "console_presses": 300},
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except OSError:
        mem_kb = 0
    versions = {}
    for pkg in ("websockets", "msgspec"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()], "cpu_model": model, "memory_gb": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(), **versions}


def commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


async def run_once(kind: str, rooms: int, seconds: float, rate: float, seed: int, bursts: bool = True) -> dict:
    """One run; a run that could not even set its rooms up counts as a failed step, not a crash."""
    try:
        return await _run_once(kind, rooms, seconds, rate, seed=seed, bursts=bursts)
    except Exception as exc:   # noqa: BLE001 - reported in the JSON
        log(f"{kind} at {rooms} rooms failed: {type(exc).__name__}: {exc}")
        nan = float("nan")
        return {"rooms": rooms, "connections": rooms * 12, "failed": f"{type(exc).__name__}: {exc}",
                "latency_ms": {"p50": nan, "p99": nan, "max": nan}, "delivered_events_per_s": 0.0,
                "by_kind_p99_ms": {}, "errors": {"run_failed": 1}, "skipped": 0, "unmatched": 0,
                "commands": 1, "server_cpu_pct": nan, "loadgen_cpu_pct": nan, "rss_per_connection_kb": nan,
                "rss_empty_mb": nan, "rss_held_mb": nan, "setup_s": nan}


def brief(r: dict) -> dict:
    return {"rooms": r["rooms"], "p50_ms": r["latency_ms"]["p50"], "p99_ms": r["latency_ms"]["p99"],
            "max_ms": r["latency_ms"]["max"], "delivered_events_per_s": r["delivered_events_per_s"],
            "server_cpu_pct": r["server_cpu_pct"], "loadgen_cpu_pct": r["loadgen_cpu_pct"],
            "errors": sum(r["errors"].values()) + r["skipped"] + r["unmatched"], "ok": sustained(r, LIMIT_MS)}


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


async def race(cfg: dict) -> dict:
    """Project and relay, alternating: the fixed load (repeated), then steps up until p99 passes the limit."""
    kinds = ("relay", "project")
    fixed: dict[str, list[dict]] = {k: [] for k in kinds}
    w, rate = cfg["window_s"], cfg["rate"]
    for i in range(cfg["repeats"]):
        order = kinds if i % 2 == 0 else kinds[::-1]
        for k in order:
            log(f"fixed load: {k}, {cfg['fixed_rooms']} rooms, repeat {i + 1}/{cfg['repeats']}")
            fixed[k].append(await run_once(k, cfg["fixed_rooms"], w, rate, seed=11 + i))
    out = {k: {"fixed_load": fixed_summary(fixed[k])} for k in kinds}
    best = {k: (cfg["fixed_rooms"] if out[k]["fixed_load"]["latency_ms"]["p99"] <= LIMIT_MS
                and sum(sustained(r, LIMIT_MS) for r in fixed[k]) * 2 > len(fixed[k]) else 0) for k in kinds}
    steps = {k: [{"rooms": cfg["fixed_rooms"], "p99_ms": out[k]["fixed_load"]["latency_ms"]["p99"],
                  "ok": bool(best[k])}] for k in kinds}
    deadline = time.monotonic() + cfg["step_budget_s"]
    for k in kinds:
        # the fixed load was already too much (a noisy moment, or a slow server): step down instead
        rooms = cfg["fixed_rooms"] // 2
        while not best[k] and rooms >= 1 and time.monotonic() < deadline:
            log(f"step down: {k}, {rooms} rooms")
            r = await run_once(k, rooms, w, rate, seed=51)
            b = brief(r)
            steps[k].insert(0, b)
            if b["ok"]:
                best[k] = rooms
            rooms //= 2
    active = {k: best[k] >= cfg["fixed_rooms"] for k in kinds}
    stopped = {k: "limit passed" if not active[k] else "" for k in kinds}
    for j, rooms in enumerate(cfg["steps"]):
        order = kinds if j % 2 == 0 else kinds[::-1]
        for k in order:
            if not active[k]:
                continue
            if time.monotonic() > deadline:
                active[k], stopped[k] = False, "time budget spent"
                continue
            log(f"step: {k}, {rooms} rooms")
            r = await run_once(k, rooms, w, rate, seed=101 + j)
            tries = [r]
            if not sustained(r, LIMIT_MS) and cfg["confirm"] and time.monotonic() < deadline:
                log(f"step: {k}, {rooms} rooms, p99 {r['latency_ms']['p99']} ms: confirming")
                tries.append(await run_once(k, rooms, w, rate, seed=201 + j))
            ok = any(sustained(t, LIMIT_MS) for t in tries)
            b = brief(min(tries, key=lambda t: t["latency_ms"]["p99"]))
            b["tries"] = len(tries)
            steps[k].append(b)
            if ok:
                best[k] = rooms
            else:
                active[k], stopped[k] = False, "limit passed"
    for k in kinds:
        out[k]["sustained_rooms"] = best[k]
        out[k]["sustained_connections"] = best[k] * 12
        out[k]["steps"] = steps[k]
        out[k]["stopped_by"] = stopped[k] or "highest step sustained"
    return out


async def hold(cfg: dict) -> dict:
    """Many connections held at one command per room per second: latency and memory.

    The target's load is steady talk (hands, next speaker, chat, a late
    arrival), measured over a longer window so that the collector's full
    passes fall inside it. The same number of rooms with the every-room poll
    and breakouts bursts is measured too, as `with_bursts`."""
    out: dict = {"window_s": cfg["hold_window_s"], "with_bursts": {}}
    for k in ("relay", "project"):
        log(f"hold: {k}, {cfg['hold_rooms']} rooms, steady, {cfg['hold_window_s']} s")
        r = await run_once(k, cfg["hold_rooms"], cfg["hold_window_s"], cfg["rate"], seed=301, bursts=False)
        out[k] = {**brief(r), "connections": r["connections"], "setup_s": r["setup_s"],
                  "rss_empty_mb": r["rss_empty_mb"], "rss_held_mb": r["rss_held_mb"],
                  "rss_per_connection_kb": r["rss_per_connection_kb"]}
    for k in ("relay", "project"):
        log(f"hold: {k}, {cfg['hold_rooms']} rooms, with the every-room bursts")
        r = await run_once(k, cfg["hold_rooms"], cfg["window_s"], cfg["rate"], seed=301)
        out["with_bursts"][k] = brief(r)
    return out


async def main_async(quick: bool) -> dict:
    cfg = SETTINGS["quick" if quick else "full"]
    t0 = time.monotonic()
    result: dict = {"mode": "quick" if quick else "full", "commit": commit(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
                    "settings": {k: cfg[k] for k in ("fixed_rooms", "window_s", "rate", "repeats", "steps")}
                    | {"people_per_room": 12, "limit_p99_ms": LIMIT_MS}}
    result.update(await race(cfg))
    p, r = result["project"], result["relay"]
    result["ratio_sustained_load"] = round(p["sustained_rooms"] / r["sustained_rooms"], 3) if r["sustained_rooms"] else None
    result["ratio_p99_fixed_load"] = round(p["fixed_load"]["latency_ms"]["p99"] / r["fixed_load"]["latency_ms"]["p99"], 3)
    if cfg["hold_rooms"]:
        result["hold"] = await hold(cfg)
    mem_src = result.get("hold", {}).get("project") or p["fixed_load"]
    result["memory"] = {
        "project_rss_per_connection_kb": mem_src["rss_per_connection_kb"],
        "relay_rss_per_connection_kb": (result.get("hold", {}).get("relay") or r["fixed_load"])["rss_per_connection_kb"],
        "connections_held": mem_src.get("connections", p["fixed_load"]["connections"]),
        "project_rss_held_mb": mem_src.get("rss_held_mb"),
    }
    with figures.tmpdir() as d:
        log("record writes")
        result["record_writes"] = figures.record_writes(cfg["record_sizes"], cfg["record_seconds"], d)
        log("fold rate")
        result["fold"] = figures.fold_rate(cfg["fold_rooms"], cfg["fold_repeats"])
        secret = os.urandom(32)
        log(f"restart with {cfg['restart_rooms']} rooms")
        result["restart"] = await figures.restart(cfg["restart_rooms"], cfg["restart_minutes"], d, secret=secret)
        result["restart"]["hub_load_in_process"] = figures.in_process_load(
            cfg["restart_rooms"], cfg["restart_minutes"], d, secret)
        if cfg["restart_long_minutes"]:
            # the same rooms further into their groups: what snapshots bound
            os.remove(os.path.join(d, "restart.db"))
            log(f"restart with {cfg['restart_rooms']} rooms, {cfg['restart_long_minutes']} minutes in")
            result["restart_long"] = await figures.restart(cfg["restart_rooms"], cfg["restart_long_minutes"], d,
                                                           secret=secret)
            result["restart_long"]["hub_load_in_process"] = figures.in_process_load(
                cfg["restart_rooms"], cfg["restart_long_minutes"], d, secret)
    if not quick:
        # a minute of Chromium pages: too long for --quick; alone it is `python -m bench.media`
        log("media: Janus per publisher, 4 Chromium pages in a network namespace")
        result["media"] = media_figure()
    log(f"console: key press to screen, {cfg['console_presses']} presses under 100 events/s")
    result["console_key_to_screen"] = console_latency(cfg["console_presses"])
    result["elapsed_s"] = round(time.monotonic() - t0, 1)
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def console_latency(presses: int) -> dict:
    """The console's key press to screen under a burst (facilitator/bench_latency.py)."""
    try:
        out = subprocess.run([sys.executable, "-m", "facilitator.bench_latency", "--presses", str(presses),
                              "--burst", "100", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        log(f"console latency failed: {type(exc).__name__}: {exc}")
        return {"failed": f"{type(exc).__name__}"}


def media_figure() -> dict:
    try:
        out = subprocess.run([sys.executable, "-m", "bench.media"], cwd=ROOT, capture_output=True, text=True,
                             timeout=700)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        log(f"media figure failed: {type(exc).__name__}: {exc}")
        return {"failed": f"{type(exc).__name__}"}


def clean(x):
    """NaN (a failed run has no latency) becomes null, so the output is strict JSON."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small run that finishes within a minute")
    ap.add_argument("--out", help="also write the JSON to this file")
    a = ap.parse_args(argv)
    result = clean(asyncio.run(main_async(a.quick)))
    text = json.dumps(result, indent=1, allow_nan=False)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
