"""The load generator in several processes: `Run(generators=K)` (bench/load.py).

One process reads every connection of a burst one after another, and round 5
(docs/performance.md) suspected that queue of making the project's tail. With
K processes each drives the rooms r with r % K == its part, so a burst is read
K ways at once. Round 6 measured it: neither the project's nor the relay's
ceiling moved, so the tail is the server's; two servers against one did gain.

The parent (the Run that started the servers) starts K - 1 helpers and drives
part 0 itself. Each helper is `python -m bench.generators` with its settings
as one JSON line on stdin; it connects its rooms and prints READY, waits for a
line with the window's start on `time.perf_counter` (CLOCK_MONOTONIC, one clock
for every process on the machine), runs its rooms' timelines from it, and
prints one JSON line: its deliveries' latencies by kind, its counts, its CPU.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from bench.target import ROOT


class Helpers:
    """The parent's side: K - 1 helper processes for one Run."""

    def __init__(self, run):
        self.run = run
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self) -> "Helpers":
        run = self.run
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for part in range(1, run.generators):
            spec = {"kind": run.kind, "rooms": run.rooms, "seconds": run.seconds, "rate": run.rate,
                    "seed": run.seed, "compression": run.compression, "bursts": run.bursts,
                    "shared": run.shared, "conc": run.conc, "generators": run.generators, "part": part,
                    "targets": [{"port": t.port, "secret": t.secret.hex()} for t in run.targets]}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.generators", cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, limit=2**28)
            proc.stdin.write((json.dumps(spec) + "\n").encode())
            await proc.stdin.drain()
            self.procs.append(proc)
        return self

    async def _line(self, proc, timeout: float) -> str:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode()
        if not line:
            raise RuntimeError(f"a generator process ended early (exit {await proc.wait()})")
        return line

    async def ready(self, timeout: float = 300.0) -> None:
        for proc in self.procs:
            line = await self._line(proc, timeout)
            if line.split()[:1] != ["READY"]:
                raise RuntimeError(f"a generator process said {line.strip()[:200]!r}")

    def go(self, t0: float) -> None:
        for proc in self.procs:
            proc.stdin.write(f"{t0!r}\n".encode())

    async def results(self) -> list[dict]:
        timeout = 60 + 3 * self.run.seconds
        return [json.loads(await self._line(proc, timeout)) for proc in self.procs]

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


class _Remote:
    """A server started by the parent: only its address and secret are needed here."""

    def __init__(self, port: int, secret: str):
        self.port, self.secret = port, bytes.fromhex(secret)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


async def _helper() -> int:
    from bench.load import Run
    spec = json.loads(sys.stdin.readline())
    run = Run(spec["kind"], spec["rooms"], spec["seconds"], spec["rate"], spec["seed"],
              connect_concurrency=spec["conc"], compression=spec["compression"], bursts=spec["bursts"],
              generators=spec["generators"], part=spec["part"])
    run.shared = spec["shared"]
    run.targets = [_Remote(t["port"], t["secret"]) for t in spec["targets"]]
    loop = asyncio.get_running_loop()
    try:
        await run.connect_rooms()
        print("READY", flush=True)
        t0 = float(await loop.run_in_executor(None, sys.stdin.readline))
        cpu0 = time.process_time()
        t1 = await run.drive(t0)
        cpu = time.process_time() - cpu0
        lat, kinds, counts = run.latencies()
        print(json.dumps({"lat": lat, "kinds": kinds, "counts": counts, "cpu_s": cpu, "t1": t1}), flush=True)
    except Exception as exc:       # noqa: BLE001 - the parent reports it as a failed step
        print(f"FAILED {type(exc).__name__}: {exc}", flush=True)
        return 1
    finally:
        await run.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_helper()))
