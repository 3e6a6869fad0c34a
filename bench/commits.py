"""Two or more commits of the server under the same load, alternating: which one has the shorter tail.

    python -m bench.commits [--rooms 200] [--repeats 3] [--seconds 10] COMMIT COMMIT [...]

Each commit is checked out with `git archive` into a directory of its own (the
working tree is not touched; `WORKTREE` names the working tree as it is now).
Each repeat runs `python -m bench.tail --repeats 1` once per commit, in that
commit's own code (the load generator too), the order reversed every other
repeat so that neither is always first on a machine that warms or cools.
Prints one JSON object: each run's p99, poll and breakout p99 and server CPU,
and per commit their medians and the ratio of each p99 median to the first's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from bench.target import ROOT


def _tree(commit: str, into: str) -> str:
    path = os.path.join(into, commit.replace("/", "_"))
    os.makedirs(path)
    if commit == "WORKTREE":
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                               capture_output=True, check=True).stdout
        subprocess.run(["tar", "-cf", os.path.join(into, "wt.tar"), "--null", "-T", "-"], cwd=ROOT,
                       input=files, check=True)
        subprocess.run(["tar", "-xf", os.path.join(into, "wt.tar"), "-C", path], check=True)
        return path
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"bench.commits: no such commit: {commit}")
    subprocess.run(["tar", "-xf", "-", "-C", path], input=archive.stdout, check=True)
    return path


def _one(tree: str, rooms: int, seconds: float) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.tail", "--rooms", str(rooms), "--repeats", "1",
                          "--seconds", str(seconds)], cwd=tree, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=tree))
    if out.returncode != 0:
        raise SystemExit(f"bench.commits: the run in {tree} failed:\n{out.stderr[-2000:]}")
    r = json.loads(out.stdout)["runs"][0]
    kinds = r["by_kind_p99_ms"]
    return {"p99_ms": r["latency_ms"]["p99"], "poll_p99_ms": kinds.get("poll"),
            "breakout_p99_ms": kinds.get("breakout"), "server_cpu_pct": r["server_cpu_pct"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.commits", description=__doc__.splitlines()[0])
    ap.add_argument("commits", nargs="+", metavar="COMMIT")
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args(argv)
    if len(a.commits) < 2:
        ap.error("name at least two commits (WORKTREE for the working tree as it is)")
    with tempfile.TemporaryDirectory(prefix="bench-commits-") as d:
        trees = {c: _tree(c, d) for c in a.commits}
        runs: dict[str, list[dict]] = {c: [] for c in a.commits}
        for i in range(a.repeats):
            for c in (a.commits if i % 2 == 0 else a.commits[::-1]):
                print(f"[bench.commits] {c}, repeat {i + 1}/{a.repeats}", file=sys.stderr, flush=True)
                runs[c].append(_one(trees[c], a.rooms, a.seconds))
    med = lambda c, k: statistics.median(r[k] for r in runs[c] if r[k] is not None)
    first = a.commits[0]
    out = {"rooms": a.rooms, "seconds": a.seconds, "repeats": a.repeats, "loadavg_at_end": os.getloadavg(),
           "commits": {c: {"runs": runs[c],
                           "median": {k: med(c, k) for k in runs[c][0]},
                           "p99_ratio_to_first": round(med(c, "p99_ms") / med(first, "p99_ms"), 3)}
                       for c in a.commits}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
