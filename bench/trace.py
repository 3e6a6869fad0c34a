"""Where a delivery's time goes inside the server under test: per-stage timings.

    BENCH_TRACE=FILE python -m bench.serve ...     (the load sets it: `Run(trace=FILE)`)

Wraps the hub's group commit from the outside (the server's code is not
changed) and, when the server stops, writes percentiles as JSON:

- `queued`: from a batch's submission (its command decided) to its commit starting;
- `write`: `Record.append` in the writer thread (hashing, binding, the commit's fsync);
- `handoff`: from `append` returning in the writer thread to the event loop running
  the fan-out (the thread's completion waits for the loop, and for the GIL);
- `fanout`: delivering one commit's events to every connection that hears them;
- `loop_lag`: how late a 5 ms sleep on the loop wakes (anything that holds the loop);
- `gc`: each collection's pause, by generation, on whichever thread it ran;
- `batch_rows`, `batch_commands`: what one commit carried;
- `bursts`: for the commits of 50 commands or more, a timeline in ms from the first
  frame the server read for it: when the frames were read, decided (submitted), the
  commit began, its write ended and its fan-out ended.
"""
from __future__ import annotations

import asyncio
import gc
import json
import time

clock = time.perf_counter


def pcts(xs: list[float], scale: float = 1000.0) -> dict:
    if not xs:
        return {"n": 0}
    xs = sorted(xs)
    at = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    return {"n": len(xs), "p50": round(scale * at(0.5), 3), "p90": round(scale * at(0.9), 3),
            "p99": round(scale * at(0.99), 3), "max": round(scale * xs[-1], 3),
            "sum": round(scale * sum(xs), 1)}


class Trace:
    def __init__(self, hub) -> None:
        self.hub = hub
        self.t = {k: [] for k in ("queued", "write", "handoff", "fanout", "loop_lag", "batch_rows",
                                  "batch_commands", "sends_per_commit", "connections_per_commit")}
        self._sent: list = []
        self.gc: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._gc_t0 = 0.0
        self._submitted: dict[int, float] = {}
        self._append_end = 0.0
        self._task: asyncio.Task | None = None
        self._read: dict[int, float] = {}      # a submission's future -> when its frame was read
        self._frame_t = 0.0
        self.bursts: list[dict] = []
        self.flushes: list[tuple[float, float]] = []      # each outbox flush: start, end

    def install(self) -> "Trace":
        hub, rec = self.hub, self.hub.record
        submit, audit, commit, deliver, append = hub._submit, hub._audit, hub._commit, hub._deliver, rec.append

        def _submit(*a, **kw):
            fut = submit(*a, **kw)
            self._submitted[id(fut)] = clock()
            self._read[id(fut)] = self._frame_t
            return fut

        def _audit(*a, **kw):
            fut = audit(*a, **kw)
            self._submitted[id(fut)] = clock()
            return fut

        async def _commit(batches):
            t = clock()
            subs, reads = [], []
            for b in batches:
                s = self._submitted.pop(id(b.future), None)
                r = self._read.pop(id(b.future), None)
                if s is not None:
                    self.t["queued"].append(t - s)
                    subs.append(s)
                if r:
                    reads.append(r)
            self.t["batch_rows"].append(sum(len(b.rows) for b in batches) / 1000)   # counts, kept as ms
            self.t["batch_commands"].append(len(batches) / 1000)
            self._append_end = 0.0
            self._last_append_end = t
            t_f = [0.0]

            def _deliver(host, items):
                t0 = clock()
                if self._append_end:
                    self.t["handoff"].append(t0 - self._append_end)
                    self._append_end = 0.0
                    t_f[0] = t0
                deliver(host, items)
            hub._deliver = _deliver
            self._sent = sent = []
            try:
                await commit(batches)
            finally:
                hub._deliver = deliver
                self._sent = None
            if sent:
                self.t["sends_per_commit"].append(len(sent) / 1000)
                self.t["connections_per_commit"].append(len(set(sent)) / 1000)
            if t_f[0]:
                self.t["fanout"].append(clock() - t_f[0])
            if len(batches) >= 50 and reads:
                z = min(reads)
                ms = lambda x: round(1000 * (x - z), 2)
                self.bursts.append({"commands": len(batches), "sends": len(sent), "at": z,
                                    "read": [ms(min(reads)), ms(max(reads))], "decided": [ms(min(subs)), ms(max(subs))],
                                    "commit_start": ms(t), "write_end": ms(self._last_append_end),
                                    "fanout_end": ms(clock())})

        def _append(rows, snaps=()):
            t0 = clock()
            try:
                return append(rows, snaps)
            finally:
                self._append_end = self._last_append_end = clock()
                self.t["write"].append(self._append_end - t0)

        hub._submit, hub._audit, hub._commit, rec.append = _submit, _audit, _commit, _append
        from server import gateway
        conn_send = gateway.Conn.send

        def _send(conn, data):
            if self._sent is not None:
                self._sent.append(id(conn))
            conn_send(conn, data)
        gateway.Conn.send = _send
        frame = gateway.Gateway._frame

        async def _frame(gw, *a, **kw):
            self._frame_t = clock()         # a command is decided within its frame's handling
            return await frame(gw, *a, **kw)
        gateway.Gateway._frame = _frame
        from server import outbox
        flush = outbox.flush

        def _flush():
            t0 = clock()
            flush()
            self.flushes.append((t0, clock()))
        outbox.flush = _flush
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._lag())
        return self

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_t0 = clock()
        else:
            self.gc[info["generation"]].append(clock() - self._gc_t0)

    async def _lag(self) -> None:
        while True:
            t = clock()
            await asyncio.sleep(0.005)
            self.t["loop_lag"].append(clock() - t - 0.005)

    def dump(self, path: str) -> None:
        if self._task is not None:
            self._task.cancel()
        out = {k: pcts(v) for k, v in self.t.items()}
        for k in ("batch_rows", "batch_commands", "sends_per_commit", "connections_per_commit"):   # counts
            out[k] = pcts(self.t[k])
        out["gc_ms"] = {f"gen{g}": pcts(v) for g, v in self.gc.items()}
        for b in self.bursts:       # the writes of its fan-out: the outbox's next flush
            end = b["at"] + b["fanout_end"] / 1000
            nxt = next(((a, e) for a, e in self.flushes if a >= end - 1e-4), None)
            if nxt is not None:
                b["written"] = round(b["fanout_end"] + 1000 * (nxt[1] - end), 2)
        out["bursts"] = self.bursts[-40:]      # the last: setup makes bursts of its own
        with open(path, "w") as f:
            json.dump(out, f, indent=1)

