"""Profiles the project's server under the benchmark's load with py-spy.

    python -m bench.profile [--rooms 80] [--seconds 10] [--out DIR] [--gil]

py-spy (from PyPI: `pip install py-spy`) samples the server process from the
outside, so the server runs unchanged. Writes the collapsed stacks
(`profile.txt`, for flame graphs) and prints the functions with the most
samples, by own time and by inclusive time, as JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import sys

from bench.load import Run


def summarize(path: str, top: int = 25) -> dict:
    """Own and inclusive sample shares per function from py-spy's raw (collapsed) output."""
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(n)
            total += n
            frames = [fr.split(" (")[0] + " (" + fr.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
                      if " (" in fr else fr for fr in stack.split(";")]
            own[frames[-1]] += n
            for fr in set(frames):
                incl[fr] += n
    share = lambda c: [{"function": k, "pct": round(100 * v / total, 1)} for k, v in c.most_common(top)]
    return {"samples": total, "own": share(own), "inclusive": share(incl)}


async def profile(rooms: int, seconds: float, rate: float, out: str, idle: bool, gil: bool = False) -> dict:
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    path = os.path.join(out, "profile.txt")
    state = {}

    async def start_sampling(run: Run) -> None:
        args = [pyspy, "record", "--pid", str(run.target.pid), "--duration", str(int(seconds + 2)),
                "--rate", "250", "--format", "raw", "--output", path, "--nonblocking"]
        if idle:
            args.append("--idle")
        if gil:
            args.append("--gil")     # only the thread holding the GIL: what the interpreter is busy with
        state["proc"] = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await asyncio.sleep(0.5)

    run = Run("project", rooms, seconds, rate)
    result = await run.execute(on_ready=start_sampling)
    await asyncio.wait_for(state["proc"].wait(), seconds + 30)
    return {"load": {k: result[k] for k in ("rooms", "latency_ms", "delivered_events_per_s", "server_cpu_pct")},
            "profile": summarize(path), "stacks": path}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=80)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--out", default=".")
    ap.add_argument("--idle", action="store_true", help="count idle samples too")
    ap.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    print(json.dumps(asyncio.run(profile(a.rooms, a.seconds, a.rate, a.out, a.idle, a.gil)), indent=1))


if __name__ == "__main__":
    sys.exit(main())
