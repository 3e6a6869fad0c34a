"""Faults that cost attendance or memory: restarts, clock steps, rooms that have ended.

Three stories for `python -m campaigns faults` (campaigns/faults.py joins them);
each returns `{"figures": {...}, "failures": [...]}` and prints nothing itself.

- `restart_attendance`: a real `serve` is stopped (SIGTERM) and, in a second
  round, killed (SIGKILL) with a group connected; one participant comes back
  after the restart, one never does. The one who never returns must be
  credited only up to the stop, lose the seat when the grace ends, and let a
  newcomer in (before the fix: credited the downtime and after, seat kept,
  newcomer `full`).
- `clock_steps`: a real server with real websockets while `time.time` steps an
  hour forward, then back; presence, a timer and a drop deadline are measured
  against what really elapsed.
- `rooms_memory`: small rooms opened, used, closed and left, against a real
  `serve`; its RSS must stay flat (before the fix, 2,000 rooms took it from
  31 to 66 MiB).

`python -m campaigns.faults_attendance [--quick]` runs the three on their own.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
import time

from campaigns.common import ServerProcess, make_secret, rss_kib, workdir
from protocol import commands as c
from protocol.frames import Ack, Error
from server.client import SessionClient

GRACE = 2                     # seconds of drop grace in the restart stories
ROOMS_FULL = 10_000
ROOMS_QUICK = 400             # the suite's short run (tests/test_campaigns.py)
# After the warm-up nothing may grow but SQLite's page caches, which fill by about 1,200
# rooms (a fixed server measured 31.0 -> 34.2 MiB by then, and 34.3 at 3,000); before the
# fix each room kept about 13 KiB. The slope bound is what a short run can judge.
RSS_GROWTH_BOUND_KIB = 6 * 1024
KIB_PER_ROOM_BOUND = 6.0


def _out(figures: dict, failures: list[str]) -> dict:
    return {"figures": figures, "failures": failures}


async def _client(url_token, room, role, pid) -> SessionClient:
    url, token = url_token(room, role, pid)
    cl = SessionClient(url, token)
    await cl.connect()
    return cl


async def _until(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(0.05)
    return pred()


# --- restarts ---------------------------------------------------------------------------

async def _restart_round(kind: str, failures: list[str]) -> dict:
    work = workdir(f"restart-{kind}")
    try:
        make_secret(os.path.join(work, "secret"))
        proc = ServerProcess(work).start()

        def tok(room, role, pid):
            return proc.url, proc.token(room, role, pid, pid.upper())
        roster = [c.RosterEntry(id=p, name=p.upper()) for p in ("p1", "p2", "p3")]
        f = await _client(tok, "r", "facilitator", "f1")
        await f.command(c.Configure(title="t", capacity=2, drop_grace=GRACE, roster=roster))
        await f.command(c.Open())
        ps = {}
        for pid in ("p1", "p2"):
            ps[pid] = await _client(tok, "r", "participant", pid)
            await f.command(c.Admit(target=pid))
            await ps[pid].sync()
        admitted_at = time.time()
        await asyncio.sleep(1.0)
        # the last recorded event, just before the stop: after a crash the drops are dated there
        await f.command(c.Chat(text="see you Thursday"))
        stopped_at = time.time()
        proc.stop() if kind == "graceful" else proc.kill()
        for cl in (f, *ps.values()):
            await cl.drop()
        down = GRACE + 1.0               # longer than the grace: p1 must lose the seat
        await asyncio.sleep(down)
        proc.start()
        f = await _client(tok, "r", "facilitator", "f1")
        w = f.welcome.state
        ghosts = sorted(p for p in ("p1", "p2") if w.members[p].status == "present")
        p2 = await _client(tok, "r", "participant", "p2")       # comes back: without waiting
        await p2.sync()
        p3 = await _client(tok, "r", "participant", "p3")       # a newcomer
        admit = await f.command(c.Admit(target="p3"))
        await f.sync()
        # p1's credited time: the welcome's room with the events since, as a console folds it
        from server.engine import evolve
        from server.engine.admission import attended_seconds
        state = w
        for fr in f.events:
            if fr.seq > state.seq:
                evolve(state, fr.ev, fr.at, fr.seq)
        m1 = state.members["p1"]
        credited = attended_seconds(m1, time.time())
        truth = stopped_at - admitted_at
        fig = {"ghosts_after_restart": len(ghosts), "p1_credited_s": round(credited, 2),
               "p1_present_s": round(truth, 2), "downtime_s": down,
               "p2_back": state.members["p2"].status == "present",
               "newcomer": "admitted" if isinstance(admit, Ack) else getattr(admit, "code", "?")}
        if ghosts:
            failures.append(f"{kind}: still present after the restart: {ghosts}")
        if abs(credited - truth) > 1.0:
            failures.append(f"{kind}: p1 credited {credited:.1f} s for {truth:.1f} s present")
        if not isinstance(admit, Ack):
            failures.append(f"{kind}: a newcomer got {getattr(admit, 'code', admit)} after the grace")
        if state.members["p2"].status != "present":
            failures.append(f"{kind}: p2 did not return")
        for cl in (f, p2, p3):
            await cl.close()
        proc.stop()
        # the stop's drops are in the chain like any event: the record still verifies
        from server.record import Record
        rec = Record(proc.db, readonly=True)
        fig["stop_drops_recorded"] = sum(1 for row in rec.rows("r") if row[4] == "system" and row[6] == "dropped")
        fig["verify_ok"] = rec.verify().ok
        rec.close()
        if not fig["verify_ok"]:
            failures.append(f"{kind}: the record does not verify")
        if fig["stop_drops_recorded"] < 2:
            failures.append(f"{kind}: {fig['stop_drops_recorded']} stop drops in the record, not 2")
        return fig
    finally:
        shutil.rmtree(work, ignore_errors=True)


def restart_attendance(quick: bool = True) -> dict:
    """A graceful stop and a crash with people who never return."""
    failures: list[str] = []
    figures = {}
    for kind in ("graceful", "crash"):
        try:
            figures[kind] = asyncio.run(_restart_round(kind, failures))
        except Exception as exc:            # a story that cannot be told is a failure
            failures.append(f"{kind}: {type(exc).__name__}: {exc}")
    return _out(figures, failures)


# --- clock steps ------------------------------------------------------------------------

async def _clock_round(step: float, tmp: str) -> tuple[dict, list[str]]:
    from server.app import EmbeddedServer
    from server.engine.admission import attended_seconds
    srv = await EmbeddedServer(os.path.join(tmp, f"clock{int(step)}.db"), secrets.token_bytes(32)).start()
    real, bad, clients = time.time, [], []
    try:
        def tok(room, role, pid):
            return srv.url, srv.token(room, role, pid, pid.upper())
        f = await _client(tok, "r", "facilitator", "f1")
        clients.append(f)
        await f.command(c.Configure(title="t", roster=[c.RosterEntry(id="p1", name="P1")], drop_grace=1))
        await f.command(c.Open())
        p = await _client(tok, "r", "participant", "p1")
        clients.append(p)
        await f.command(c.Admit(target="p1"))
        await p.sync()
        t0 = time.monotonic()
        time.time = lambda: real() + step          # the system clock steps
        await f.command(c.TimerStart(id="t", seconds=1))
        room = srv.hub.rooms["r"]
        ok = await _until(lambda: room.visible.timers["t"].state == "expired", 5)
        timer_s = time.monotonic() - t0
        await asyncio.sleep(1.0)
        await p.drop()
        await _until(lambda: room.visible.members["p1"].status == "dropped", 5)
        dropped = time.monotonic()
        await _until(lambda: room.visible.members["p1"].drop_overdue, 5)
        grace_s = time.monotonic() - dropped
        m = room.visible.members["p1"]
        credited = attended_seconds(m, srv.clock.now())
        truth = dropped - t0
        fig = {"present_s": round(truth, 2), "credited_s": round(credited, 2),
               "timer_1s_fired_after_s": round(timer_s, 2), "grace_1s_ended_after_s": round(grace_s, 2),
               "last_left_before_first_joined": bool(m.last_left is not None and m.last_left < m.first_joined)}
        if not ok or not 0.8 < timer_s < 2.5:
            bad.append(f"step {step:+.0f}: a 1 s timer fired after {timer_s:.1f} s")
        if abs(credited - truth) > 1.0:
            bad.append(f"step {step:+.0f}: {truth:.1f} s present credited {credited:.1f} s")
        if grace_s > 2.5:
            bad.append(f"step {step:+.0f}: a 1 s drop grace ended after {grace_s:.1f} s")
        if fig["last_left_before_first_joined"]:
            bad.append(f"step {step:+.0f}: last_left before first_joined")
        return fig, bad
    finally:
        time.time = real
        for cl in clients:
            await cl.close()
        await srv.stop()


def clock_steps(quick: bool = True) -> dict:
    """A step of an hour forward and one back, under a real server."""
    tmp = workdir("clock")
    figures, failures = {}, []
    try:
        for name, step in (("forward", 3600.0), ("backward", -3600.0)):
            fig, bad = asyncio.run(_clock_round(step, tmp))
            figures[name] = fig
            failures += bad
    except Exception as exc:
        failures.append(f"clock: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _out(figures, failures)


# --- rooms that have ended ---------------------------------------------------------------

async def _small_room(tok, room: str) -> None:
    f = await _client(tok, room, "facilitator", "f1")
    await f.command(c.Configure(title="t", roster=[c.RosterEntry(id="p1", name="P1")]))
    await f.command(c.Open())
    p = await _client(tok, room, "participant", "p1")
    await f.command(c.Admit(target="p1"))
    await p.sync()
    await p.command(c.Chat(text="checking in"))
    await f.command(c.TimerStart(id="t", seconds=300))
    r = await f.command(c.Close())
    if isinstance(r, Error):
        raise RuntimeError(f"close refused: {r.code}")
    await p.close()
    await f.close()


async def _rooms(proc: ServerProcess, n: int, parallel: int, samples: list) -> None:
    def tok(room, role, pid):
        return proc.url, proc.token(room, role, pid, pid.upper())
    done = 0
    every = max(1, n // 20)
    for start in range(0, n, parallel):
        await asyncio.gather(*(_small_room(tok, f"room-{i}") for i in range(start, min(n, start + parallel))))
        done = min(n, start + parallel)
        if done % every < parallel or done == n:
            await asyncio.sleep(0.05)          # the last leavings recorded
            samples.append((done, rss_kib(proc.pid)))


def rooms_memory(n: int | None = None, quick: bool = True, parallel: int = 8) -> dict:
    """RSS of a real server over `n` small rooms opened, used, closed and left. The first
    fifth warms it up (SQLite's page caches, the allocator's arenas); after that the
    growth must stay within RSS_GROWTH_BOUND_KIB."""
    n = n or (ROOMS_QUICK if quick else ROOMS_FULL)
    work = workdir("rooms")
    failures: list[str] = []
    samples: list[tuple[int, int]] = []
    t0 = time.monotonic()
    try:
        make_secret(os.path.join(work, "secret"))
        proc = ServerProcess(work).start()
        try:
            start_kib = rss_kib(proc.pid)
            asyncio.run(_rooms(proc, n, parallel, samples))
        finally:
            proc.stop()
    except Exception as exc:
        failures.append(f"rooms: {type(exc).__name__}: {exc}")
        start_kib = 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    warm = next(((k, r) for k, r in samples if k >= n // 5), None)
    end = samples[-1] if samples else None
    growth = end[1] - warm[1] if warm and end else None
    figures = {"rooms": n, "seconds": round(time.monotonic() - t0, 1),
               "rss_start_mib": round(start_kib / 1024, 1),
               "rss_after_warmup_mib": round(warm[1] / 1024, 1) if warm else None,
               "rss_end_mib": round(end[1] / 1024, 1) if end else None,
               "growth_after_warmup_kib": growth,
               "kib_per_room_after_warmup": round(growth / max(1, n - warm[0]), 2) if growth is not None else None,
               "samples": [[k, round(r / 1024, 1)] for k, r in samples]}
    if growth is None:
        failures.append("rooms: no RSS measured")
    elif growth > RSS_GROWTH_BOUND_KIB or figures["kib_per_room_after_warmup"] > KIB_PER_ROOM_BOUND:
        failures.append(f"rooms: RSS grew {growth / 1024:.1f} MiB over {n - warm[0]} rooms after the warm-up")
    return _out(figures, failures)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    failed = 0
    for name, fn in (("restart_attendance", restart_attendance), ("clock_steps", clock_steps),
                     ("rooms_memory", rooms_memory)):
        out = fn(quick=quick)
        failed += len(out["failures"])
        print(json.dumps({"story": name, **out["figures"], "failures": out["failures"]}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
