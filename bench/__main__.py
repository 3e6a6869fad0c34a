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
import shutil
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
              "restart_rooms": 100, "restart_minutes": 5, "restart_long_minutes": 0, "console_presses": 40,
              "ladder_repeats": 1,
              "scale_rooms": 6, "scale_window_s": 1.5, "scale_repeats": 1, "scale_steps": [],
              "scale_budget_s": 0, "failover_kills": 1, "pg_record_sizes": [1, 10]},
    "full": {"fixed_rooms": 40, "window_s": 10.0, "rate": 1.0, "repeats": 3,
             "steps": [60, 80, 100, 130, 160, 200, 250, 320, 400, 500, 640, 800],
             "confirm": True, "step_budget_s": 1500, "hold_rooms": 400, "hold_window_s": 30.0,
             "record_sizes": [1, 10, 100, 1000], "record_seconds": 2.0, "fold_rooms": 20, "fold_repeats": 3,
             "restart_rooms": 1000, "restart_minutes": 5, "restart_long_minutes": 30, "console_presses": 300,
             "ladder_repeats": 3,
             "scale_rooms": 40, "scale_window_s": 10.0, "scale_repeats": 3, "scale_steps": [60, 100, 160, 250, 400, 640],
             "scale_budget_s": 1500, "failover_kills": 6, "pg_record_sizes": [1, 10, 100, 1000]},
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


def spread(xs: list[float]) -> dict:
    """Median and spread of repeats (NaN, a failed run, left out)."""
    xs = [x for x in xs if x is not None and x == x]
    if not xs:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3),
            "n": len(xs)}


async def ladder(kinds, runner, cfg: dict, steps: list[int], first: dict, deadline: float, flip: int) -> tuple:
    """Steps up, the kinds alternating at each step, until each one's p99 passes the limit.

    `first` is each kind's result at the fixed load (sustained or not); a kind that did not
    sustain it steps down instead. Returns (best rooms, steps, stopped_by) per kind."""
    w, rate = cfg["window_s"], cfg["rate"]
    best = {k: (first[k]["rooms"] if first[k]["ok"] else 0) for k in kinds}
    out_steps = {k: [first[k]] for k in kinds}
    for k in kinds:
        rooms = first[k]["rooms"] // 2
        while not best[k] and rooms >= 1 and time.monotonic() < deadline:
            log(f"step down: {k}, {rooms} rooms")
            b = brief(await runner(k, rooms, 51))
            out_steps[k].insert(0, b)
            if b["ok"]:
                best[k] = rooms
            rooms //= 2
    active = {k: best[k] >= first[k]["rooms"] for k in kinds}
    stopped = {k: "limit passed" if not active[k] else "" for k in kinds}
    for j, rooms in enumerate(steps):
        order = list(kinds) if (j + flip) % 2 == 0 else list(kinds)[::-1]
        for k in order:
            if not active[k]:
                continue
            if time.monotonic() > deadline:
                active[k], stopped[k] = False, "time budget spent"
                continue
            log(f"step: {k}, {rooms} rooms")
            r = await runner(k, rooms, 101 + j + 1000 * flip)
            tries = [r]
            if not sustained(r, LIMIT_MS) and cfg["confirm"] and time.monotonic() < deadline:
                log(f"step: {k}, {rooms} rooms, p99 {r['latency_ms']['p99']} ms: confirming")
                tries.append(await runner(k, rooms, 201 + j + 1000 * flip))
            ok = any(sustained(t, LIMIT_MS) for t in tries)
            b = brief(min(tries, key=lambda t: t["latency_ms"]["p99"]))
            b["tries"] = len(tries)
            out_steps[k].append(b)
            if ok:
                best[k] = rooms
            else:
                active[k], stopped[k] = False, "limit passed"
    return best, out_steps, {k: stopped[k] or "highest step sustained" for k in kinds}


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
            fixed[k].append(await run_once(k, cfg["fixed_rooms"], w, rate, seed=11 + i))
    out = {k: {"fixed_load": fixed_summary(fixed[k])} for k in kinds}
    for k in kinds:
        out[k]["fixed_load"]["p99_ms_spread"] = spread([r["latency_ms"]["p99"] for r in fixed[k]])
        out[k]["fixed_load"]["delivered_events_per_s_spread"] = spread([r["delivered_events_per_s"] for r in fixed[k]])
    first = {k: {"rooms": cfg["fixed_rooms"], "p99_ms": out[k]["fixed_load"]["latency_ms"]["p99"],
                 "ok": out[k]["fixed_load"]["latency_ms"]["p99"] <= LIMIT_MS
                 and sum(sustained(r, LIMIT_MS) for r in fixed[k]) * 2 > len(fixed[k])} for k in kinds}
    runner = lambda k, rooms, seed: run_once(k, rooms, w, rate, seed=seed)
    deadline = time.monotonic() + cfg["step_budget_s"]
    climbs = []
    for n in range(cfg.get("ladder_repeats", 1)):
        # each climb gets its share of what is left of the budget
        share = time.monotonic() + (deadline - time.monotonic()) / (cfg.get("ladder_repeats", 1) - n)
        climbs.append(await ladder(kinds, runner, cfg, cfg["steps"], first, share, flip=n))
    for k in kinds:
        bests = [c[0][k] for c in climbs]
        out[k]["sustained_rooms"] = int(statistics.median_low(bests))
        out[k]["sustained_rooms_each_climb"] = bests
        out[k]["sustained_connections"] = out[k]["sustained_rooms"] * 12
        out[k]["steps"] = climbs[0][1][k]
        out[k]["steps_later_climbs"] = [c[1][k] for c in climbs[1:]]
        out[k]["stopped_by"] = [c[2][k] for c in climbs] if len(climbs) > 1 else climbs[0][2][k]
    ratios = [c[0]["project"] / c[0]["relay"] for c in climbs if c[0]["relay"]]
    out["ratio_sustained_load_each_climb"] = spread(ratios) | {"each": [round(x, 3) for x in ratios]}
    return out


VARIANTS = {"sqlite_1": {"servers": 1, "pg": False}, "postgresql_1": {"servers": 1, "pg": True},
            "postgresql_2": {"servers": 2, "pg": True}}


async def scale(cfg: dict) -> dict:
    """The record on PostgreSQL against SQLite, and two servers against one, side by side in one run.

    Three setups of the project, alternating (the order rotates at each repeat): one server
    on SQLite, one on PostgreSQL, two on one PostgreSQL (rooms split between them, each
    room's people connecting straight to its owner, as `balance url_param room` does).
    Each repeat measures them at a fixed load; then, in the full run, each climbs the ladder."""
    from server.record.pgserver import LocalPostgres, PostgresUnavailable
    try:
        pg = LocalPostgres().start()
    except (PostgresUnavailable, OSError) as exc:
        log(f"no PostgreSQL: {exc}")
        return {"failed": f"no PostgreSQL: {exc}"}
    names = list(VARIANTS)
    w, rate, rooms = cfg["scale_window_s"], cfg["rate"], cfg["scale_rooms"]

    async def runner(name, n, seed, window=None):
        v = VARIANTS[name]
        return await run_once("project", n, window or cfg["window_s"], rate, seed=seed,
                              pg=pg if v["pg"] else None, servers=v["servers"])

    out: dict = {"rooms": rooms, "window_s": w, "repeats": cfg["scale_repeats"]}
    try:
        fixed: dict[str, list[dict]] = {k: [] for k in names}
        for i in range(cfg["scale_repeats"]):
            order = names[i % 3:] + names[:i % 3]
            for k in order:
                log(f"scale, fixed load: {k}, {rooms} rooms, repeat {i + 1}/{cfg['scale_repeats']}")
                fixed[k].append(await runner(k, rooms, 401 + i, w))
        out["fixed_load"] = {k: {
            "p99_ms": spread([r["latency_ms"]["p99"] for r in fixed[k]]),
            "p50_ms": spread([r["latency_ms"]["p50"] for r in fixed[k]]),
            "delivered_events_per_s": spread([r["delivered_events_per_s"] for r in fixed[k]]),
            "server_cpu_pct_all_servers": spread([r.get("server_cpu_pct") for r in fixed[k]]),
            "postgres_cpu_pct": spread([r.get("postgres_cpu_pct") for r in fixed[k]]),
            "loadgen_cpu_pct": spread([r.get("loadgen_cpu_pct") for r in fixed[k]]),
            "sustained": [sustained(r, LIMIT_MS) for r in fixed[k]],
            "runs": [brief(r) | {"server_cpu_each_pct": r.get("server_cpu_each_pct"),
                                 "postgres_cpu_pct": r.get("postgres_cpu_pct")} for r in fixed[k]],
        } for k in names}
        pair = lambda a, b, f: [f(x, y) for x, y in zip(fixed[a], fixed[b])]
        out["ratio_postgresql_to_sqlite"] = {
            # higher is better for both: SQLite's p99 over PostgreSQL's, PostgreSQL's throughput over SQLite's
            "p99_fixed_load": spread(pair("sqlite_1", "postgresql_1",
                                          lambda s, p: s["latency_ms"]["p99"] / p["latency_ms"]["p99"])),
            "throughput_fixed_load": spread(pair("postgresql_1", "sqlite_1",
                                                 lambda p, s: p["delivered_events_per_s"] / max(1e-9, s["delivered_events_per_s"]))),
        }
        if cfg["scale_steps"]:
            first = {k: {"rooms": rooms, "p99_ms": out["fixed_load"][k]["p99_ms"]["median"],
                         "ok": sum(out["fixed_load"][k]["sustained"]) * 2 > len(fixed[k])} for k in names}
            deadline = time.monotonic() + cfg["scale_budget_s"]
            climbs = []
            for n in range(cfg["scale_repeats"]):
                share = time.monotonic() + (deadline - time.monotonic()) / (cfg["scale_repeats"] - n)
                climbs.append(await ladder(names, runner, cfg, cfg["scale_steps"], first, share, flip=n))
            out["sustained_rooms"] = {k: spread([c[0][k] for c in climbs]) | {"each": [c[0][k] for c in climbs]}
                                      for k in names}
            out["ladder"] = {k: [c[1][k] for c in climbs] for k in names}
            out["ladder_stopped_by"] = {k: [c[2][k] for c in climbs] for k in names}
            out["ratio_postgresql_to_sqlite"]["sustained_load"] = spread(
                [c[0]["postgresql_1"] / c[0]["sqlite_1"] for c in climbs if c[0]["sqlite_1"]])
            out["ratio_two_servers_to_one"] = {"sustained_load": spread(
                [c[0]["postgresql_2"] / c[0]["postgresql_1"] for c in climbs if c[0]["postgresql_1"]])}
        log(f"failover: {cfg['failover_kills']} kills of a room's owner")
        out["failover"] = await failover(cfg["failover_kills"], pg)
        # the same batches into PostgreSQL and into a SQLite file, alternating size by size
        out["record_writes_postgresql"], out["record_writes_sqlite_same_run"] = {}, {}
        with figures.tmpdir() as d:
            for size in cfg["pg_record_sizes"]:
                log(f"record writes, batches of {size}: PostgreSQL, then SQLite")
                out["record_writes_postgresql"] |= figures.record_writes([size], cfg["record_seconds"], d, pg=pg)
                out["record_writes_sqlite_same_run"] |= figures.record_writes([size], cfg["record_seconds"], d)
    finally:
        pg.stop()
    return out


async def failover(kills: int, pg) -> dict:
    """SIGKILL of a room's owner until the room is served again, through HAProxy.

    campaigns/failover.py's measure as it is: three servers on one PostgreSQL behind the
    shipped HAProxy configuration, groups talking; from the kill to the room's facilitator
    resuming through the proxy and getting an answer to a command."""
    from campaigns.common import Figures
    from campaigns.failover import Failover
    fig = Figures("failover", 17, True)
    f = Failover(fig, kills, 3, 3)
    shutil.rmtree(f.cluster.pg.base, ignore_errors=True)     # the cluster's own, never started
    f.cluster.pg, f.cluster.own_pg = pg, False      # the bench's PostgreSQL, a database of its own
    try:
        await f.run()
    except Exception as exc:   # noqa: BLE001 - reported
        log(f"failover failed: {type(exc).__name__}: {exc}")
        return {"failed": f"{type(exc).__name__}: {exc}"}
    return {"kills": kills, "served_again_s": spread(f.served) | {"each": [round(x, 3) for x in f.served]},
            "failures": len(fig.failures), "first_failures": fig.failures[:5], "goal_s": 5.0}


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
                    "settings": {k: cfg[k] for k in ("fixed_rooms", "window_s", "rate", "repeats", "steps")}
                    | {"people_per_room": 12, "limit_p99_ms": LIMIT_MS}}
    if overrides:
        result["settings_changed"] = overrides
    if only == "scale":
        result["scale"] = await scale(cfg)
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
    log("scale: PostgreSQL against SQLite, two servers against one")
    result["scale"] = await scale(cfg)
    if not quick:
        # a minute of Chromium pages: too long for --quick; alone it is `python -m bench.media`
        log("media: Janus per publisher, 4 Chromium pages in a network namespace")
        result["media"] = media_figure()
    log(f"console: key press to screen, {cfg['console_presses']} presses under 100 events/s")
    result["console_key_to_screen"] = console_latency(cfg["console_presses"])
    return finish(result, cfg, t0)


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
    ap.add_argument("--only", choices=("race", "scale"),
                    help="only the project-against-relay race (fixed load and ladder), or only the scale figures "
                         "(PostgreSQL against SQLite, two servers against one, failover, PostgreSQL commits)")
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
