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
from bench.ladder import LIMIT_MS, brief, climbs, first_step, fixed_summary, log, run_once, spread
from bench.load import ROOT, max_rooms
from bench.scale import scale

SETTINGS = {
    "quick": {"fixed_rooms": 10, "window_s": 5.0, "rate": 1.0, "repeats": 1, "steps": [25],
              "resolution": 2.0, "max_rooms": 25, "step_budget_s": 25, "hold_rooms": 0, "hold_window_s": 0,
              "record_sizes": [1, 10, 100], "record_seconds": 0.3, "fold_rooms": 3, "fold_repeats": 1,
              "restart_rooms": 100, "restart_minutes": 5, "restart_long_minutes": 0, "console_presses": 40,
              "ladder_repeats": 1, "generators": 1, "restart_repeats": 1,
              "scale_rooms": 6, "scale_window_s": 1.5, "scale_repeats": 1, "scale_steps": [10],
              "scale_budget_s": 20, "failover_kills": 1, "pg_record_sizes": [1, 10]},
    "full": {"fixed_rooms": 40, "window_s": 10.0, "rate": 1.0, "repeats": 3,
             # coarse steps of about 1.6 times, then bisection to within `resolution` (bench/ladder.py);
             # the top is what this process's open files allow (12 connections a room)
             "steps": [60, 100, 160, 250, 400, 640, 1000, 1600], "resolution": 1.15,
             "max_rooms": min(1600, max_rooms()), "step_budget_s": 1200, "hold_rooms": 400, "hold_window_s": 30.0,
             "record_sizes": [1, 10, 100, 1000], "record_seconds": 2.0, "fold_rooms": 20, "fold_repeats": 3,
             "restart_rooms": 1000, "restart_minutes": 5, "restart_long_minutes": 30, "restart_repeats": 3,
             "console_presses": 300,
             # generator processes (bench/generators.py): 1 is every round's setting so far
             "ladder_repeats": 3, "generators": 1,
             "scale_rooms": 40, "scale_window_s": 10.0, "scale_repeats": 3, "scale_steps": [60, 100, 160, 250, 400, 640, 1000],
             "scale_budget_s": 1200, "failover_kills": 6, "pg_record_sizes": [1, 10, 100, 1000]},
}


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


async def race(cfg: dict) -> dict:
    """Project and relay, alternating: the fixed load (repeated), then steps up until p99 passes the limit.

    The ladder is climbed `ladder_repeats` times, the kind that goes first at each step
    alternating between climbs; the sustained load is the median of the climbs."""
    kinds = ("relay", "project")
    fixed: dict[str, list[dict]] = {k: [] for k in kinds}
    w, rate = cfg["window_s"], cfg["rate"]
    for i in range(cfg["repeats"]):
        order = kinds if i % 2 == 0 else kinds[::-1]
        for k in order:
            log(f"fixed load: {k}, {cfg['fixed_rooms']} rooms, repeat {i + 1}/{cfg['repeats']}")
            fixed[k].append(await run_once(k, cfg["fixed_rooms"], w, rate, seed=11 + i,
                                           generators=cfg["generators"]))
    out = {k: {"fixed_load": fixed_summary(fixed[k])} for k in kinds}
    for k in kinds:
        out[k]["fixed_load"]["p99_ms_spread"] = spread([r["latency_ms"]["p99"] for r in fixed[k]])
        out[k]["fixed_load"]["delivered_events_per_s_spread"] = spread([r["delivered_events_per_s"] for r in fixed[k]])
    first = {k: first_step(fixed[k]) for k in kinds}
    runner = lambda k, rooms, seed: run_once(k, rooms, w, rate, seed=seed, generators=cfg["generators"])
    cs = await climbs(kinds, runner, cfg, cfg["steps"], first, cfg["step_budget_s"], cfg.get("ladder_repeats", 1))
    for k in kinds:
        bests = [c[0][k] for c in cs]
        out[k]["sustained_rooms"] = int(statistics.median_low(bests))
        out[k]["sustained_rooms_spread"] = spread(bests)
        out[k]["sustained_rooms_each_climb"] = bests
        out[k]["sustained_connections"] = out[k]["sustained_rooms"] * 12
        out[k]["steps"] = cs[0][1][k]
        out[k]["steps_later_climbs"] = [c[1][k] for c in cs[1:]]
        out[k]["stopped_by"] = [c[2][k] for c in cs] if len(cs) > 1 else cs[0][2][k]
    ratios = [c[0]["project"] / c[0]["relay"] for c in cs if c[0]["relay"]]
    out["ratio_sustained_load_each_climb"] = spread(ratios) | {"each": [round(x, 3) for x in ratios]}
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


async def main_async(quick: bool, only: str | None = None, overrides: dict | None = None) -> dict:
    cfg = SETTINGS["quick" if quick else "full"] | (overrides or {})
    t0 = time.monotonic()
    result: dict = {"mode": "quick" if quick else "full", "commit": commit(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
                    "settings": {k: cfg[k] for k in ("fixed_rooms", "window_s", "rate", "repeats", "steps", "resolution",
                                                      "max_rooms", "ladder_repeats", "generators")}
                    | {"people_per_room": 12, "limit_p99_ms": LIMIT_MS}}
    if overrides:
        result["settings_changed"] = overrides
    if only == "scale":
        result["scale"] = await scale(cfg)
        return finish(result, cfg, t0)
    if only == "restart":
        result.update(await restarts(cfg))
        return finish(result, cfg, t0)
    result.update(await race(cfg))
    p, r = result["project"], result["relay"]
    result["ratio_sustained_load"] = round(p["sustained_rooms"] / r["sustained_rooms"], 3) if r["sustained_rooms"] else None
    result["ratio_p99_fixed_load"] = round(p["fixed_load"]["latency_ms"]["p99"] / r["fixed_load"]["latency_ms"]["p99"], 3)
    if only == "race":
        return finish(result, cfg, t0)
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
    result.update(await restarts(cfg))
    log("scale: PostgreSQL against SQLite, two servers against one")
    result["scale"] = await scale(cfg)
    if not quick:
        # a minute of Chromium pages: too long for --quick; alone it is `python -m bench.media`
        log("media: Janus per publisher, 4 Chromium pages in a network namespace")
        result["media"] = media_figure()
    log(f"console: key press to screen, {cfg['console_presses']} presses under 100 events/s")
    result["console_key_to_screen"] = console_latency(cfg["console_presses"])
    return finish(result, cfg, t0)


async def restarts(cfg: dict) -> dict:
    """A server started on a record of open rooms, until every room has welcomed its
    facilitator: 5 minutes into their groups, and (full run) 30. Each `restart_repeats`
    times on a fresh record; the figures of the median run by all_rooms_accepting_s, with
    every run's times beside them."""
    out = {}
    for key, minutes in (("restart", cfg["restart_minutes"]), ("restart_long", cfg["restart_long_minutes"])):
        if not minutes:
            continue
        runs = []
        for i in range(cfg["restart_repeats"]):
            log(f"restart with {cfg['restart_rooms']} rooms, {minutes} minutes in, {i + 1}/{cfg['restart_repeats']}")
            with figures.tmpdir() as d:
                secret = os.urandom(32)
                r = await figures.restart(cfg["restart_rooms"], minutes, d, secret=secret)
                r["hub_load_in_process"] = figures.in_process_load(cfg["restart_rooms"], minutes, d, secret)
            runs.append(r)
        runs.sort(key=lambda r: r["all_rooms_accepting_s"])
        out[key] = runs[len(runs) // 2] | {
            "all_rooms_accepting_s_spread": spread([r["all_rooms_accepting_s"] for r in runs]),
            "ready_s_spread": spread([r["ready_s"] for r in runs]),
            "hub_load_s_spread": spread([r["hub_load_in_process"]["hub_load_s"] for r in runs])}
    return out


def finish(result: dict, cfg: dict, t0: float) -> dict:
    sc = result.get("scale")
    if sc is not None:
        result["failover"] = sc.pop("failover", {"failed": sc.get("failed")})
        result["ratio_postgresql_to_sqlite"] = sc.get("ratio_postgresql_to_sqlite")
        result["ratio_two_servers_to_one"] = sc.get("ratio_two_servers_to_one")
        result["failover_served_again_s"] = result["failover"].get("served_again_s")
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
    ap.add_argument("--only", choices=("race", "scale", "restart"),
                    help="only the project-against-relay race (fixed load and ladder), only the scale figures "
                         "(PostgreSQL against SQLite, two servers against one, failover, PostgreSQL commits), "
                         "or only the restarts of 1,000 rooms")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="change one setting for this run, e.g. --set 'steps=[320,400,500]' (said in the output)")
    a = ap.parse_args(argv)
    overrides = {}
    for kv in a.set:
        k, _, v = kv.partition("=")
        if k not in SETTINGS["full"]:
            ap.error(f"no setting {k!r}; the settings are {', '.join(SETTINGS['full'])}")
        overrides[k] = json.loads(v)
    result = clean(asyncio.run(main_async(a.quick, a.only, overrides)))
    text = json.dumps(result, indent=1, allow_nan=False)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
