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

The probe is campaigns/probe.py, the fuzzers campaigns/fuzzers.py; here they are
set going side by side, and the report is made.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import statistics
import time

from campaigns.common import Figures, ServerProcess, percentile, rss_kib, workdir
from campaigns.fuzzers import FUZZ_ROOMS, Budget, Fuzzer, bad_hellos, make_pools
from campaigns.probe import PROBE_PEOPLE, PROBE_ROOM, probe_process
from protocol import commands as c
from server.client import SessionClient


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
        report_probe(fig, result, windows)
        report_rss(fig, rss)
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


# --- the report ----------------------------------------------------------------------

def report_probe(fig: Figures, result: dict, windows: list[tuple[float, float, str]]) -> None:
    """The probe group: every step succeeded; latency in fuzzed windows as in quiet ones."""
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


def report_rss(fig: Figures, rss: list[tuple[float, int]]) -> None:
    """Memory levels off: the last quarter's peak is not far above the first quarter's."""
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
