"""The scale figures: PostgreSQL against SQLite, two servers against one, the failover time.

Part of `python -m bench` (and alone: `python -m bench --only scale`).
"""
from __future__ import annotations

import shutil

from bench import figures
from bench.ladder import LIMIT_MS, brief, climbs, first_step, log, run_once, spread
from bench.load import sustained


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
        return await run_once("project", n, window or w, rate, seed=seed,
                              pg=pg if v["pg"] else None, servers=v["servers"],
                              generators=cfg["generators"])

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
        pair2 = pair("postgresql_2", "postgresql_1",
                     lambda two, one: two["delivered_events_per_s"] / max(1e-9, one["delivered_events_per_s"]))
        out["ratio_two_servers_to_one"] = {"throughput_fixed_load": spread(pair2)}
        if cfg["scale_steps"]:
            first = {k: first_step(fixed[k]) for k in names}
            cs = await climbs(names, runner, cfg, cfg["scale_steps"], first, cfg["scale_budget_s"],
                              cfg["scale_repeats"])
            out["sustained_rooms"] = {k: spread([c[0][k] for c in cs]) | {"each": [c[0][k] for c in cs]}
                                      for k in names}
            out["ladder"] = {k: [c[1][k] for c in cs] for k in names}
            out["ladder_stopped_by"] = {k: [c[2][k] for c in cs] for k in names}
            out["at_highest_sustained_step"] = {k: top_steps([c[1][k] for c in cs]) for k in names}
            out["ratio_postgresql_to_sqlite"]["sustained_load"] = spread(
                [c[0]["postgresql_1"] / c[0]["sqlite_1"] for c in cs if c[0]["sqlite_1"]])
            out["ratio_two_servers_to_one"]["sustained_load"] = spread(
                [c[0]["postgresql_2"] / c[0]["postgresql_1"] for c in cs if c[0]["postgresql_1"]])
            out["ratio_two_servers_to_one"]["delivered_events_per_s_at_highest_sustained_step"] = spread(
                [a["delivered_events_per_s"] / b["delivered_events_per_s"]
                 for a, b in zip(out["at_highest_sustained_step"]["postgresql_2"]["each"],
                                 out["at_highest_sustained_step"]["postgresql_1"]["each"])
                 if a and b and b["delivered_events_per_s"]])
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


def top_steps(each_climb: list[list[dict]]) -> dict:
    """What each climb's highest sustained step delivered, and what it cost the servers,
    PostgreSQL and the load generator (percent of one core each)."""
    tops = []
    for steps in each_climb:
        ok = [b for b in steps if b.get("ok")]
        tops.append(max(ok, key=lambda b: b["rooms"]) if ok else None)
    got = [t for t in tops if t]
    field = lambda f: spread([t.get(f) for t in got])
    return {"rooms": field("rooms"), "delivered_events_per_s": field("delivered_events_per_s"),
            "server_cpu_pct_all_servers": field("server_cpu_pct"), "postgres_cpu_pct": field("postgres_cpu_pct"),
            "loadgen_cpu_pct": field("loadgen_cpu_pct"),
            "each": [None if t is None else {k: t.get(k) for k in (
                "rooms", "delivered_events_per_s", "p99_ms", "server_cpu_pct", "server_cpu_each_pct",
                "postgres_cpu_pct", "loadgen_cpu_pct", "generator_saturated")} for t in tops]}
