"""The benchmark runs and says what it measured.

This is not a timed test: it checks only that `python -m bench --quick` finishes,
prints one well-formed JSON object, and that each figure is a positive number.
How fast the figures are is for docs/performance.md, not for CI.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # shorter windows than --quick's own: the suite checks that every figure is measured, not its value
    short = ["--set", "window_s=2.0", "--set", "restart_rooms=30", "--set", "console_presses=20",
             "--set", "record_seconds=0.1", "--set", "scale_window_s=1.0"]
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out), *short], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == printed
    return printed


def test_a_quick_run_prints_one_json_object_with_both_servers(quick):
    for kind in ("project", "relay"):
        fixed = quick[kind]["fixed_load"]
        assert positive(fixed["delivered_events_per_s"])
        for q in ("p50", "p99", "max"):
            assert positive(fixed["latency_ms"][q]), (kind, q)
        assert fixed["latency_ms"]["p50"] <= fixed["latency_ms"]["p99"] <= fixed["latency_ms"]["max"]
        assert isinstance(quick[kind]["sustained_rooms"], int) and quick[kind]["sustained_rooms"] >= 0
        assert quick[kind]["steps"], kind


def test_the_ratios_are_at_the_top_level(quick):
    assert positive(quick["ratio_p99_fixed_load"])
    r = quick["ratio_sustained_load"]
    # zero when the project sustained no step on a busy machine; None only if the relay did not either
    assert (r is None and quick["relay"]["sustained_rooms"] == 0) or (isinstance(r, (int, float)) and r >= 0)


def test_the_other_figures_are_positive_numbers(quick):
    assert positive(quick["memory"]["project_rss_per_connection_kb"])
    assert positive(quick["memory"]["relay_rss_per_connection_kb"])
    for size, w in quick["record_writes"].items():
        assert int(size) >= 1
        assert positive(w["events_per_s"]) and positive(w["commits_per_s"])
    assert positive(quick["fold"]["fold_events_per_s"])
    assert positive(quick["fold"]["decode_and_fold_events_per_s"])
    restart = quick["restart"]
    assert restart["rooms"] >= 1 and positive(restart["events_in_record"])
    assert positive(restart["ready_s"]) and positive(restart["all_rooms_accepting_s"])
    assert restart["ready_s"] <= restart["all_rooms_accepting_s"]
    console = quick["console_key_to_screen"]
    assert console["presses"] >= 20 and console["burst_per_s"] == 100
    assert 0 < console["p50_ms"] <= console["p99_ms"] <= console["max_ms"]


def test_the_run_names_its_machine_and_settings(quick):
    assert quick["mode"] == "quick"
    assert positive(quick["machine"]["cpus"])
    assert quick["settings"]["people_per_room"] == 12
    assert positive(quick["elapsed_s"])


def test_the_scale_figures_are_side_by_side(quick):
    """PostgreSQL against SQLite and two servers against one, in the same run; failover through HAProxy."""
    scale = quick["scale"]
    assert "failed" not in scale, scale.get("failed")      # PostgreSQL is installed by ./run-tests
    for variant in ("sqlite_1", "postgresql_1", "postgresql_2"):
        fixed = scale["fixed_load"][variant]
        assert positive(fixed["p99_ms"]["median"]), variant
        assert fixed["p99_ms"]["min"] <= fixed["p99_ms"]["median"] <= fixed["p99_ms"]["max"]
        assert positive(fixed["delivered_events_per_s"]["median"]), variant
        assert positive(fixed["loadgen_cpu_pct"]["median"]), variant
    assert len(scale["fixed_load"]["postgresql_2"]["runs"][0]["server_cpu_each_pct"]) == 2
    assert positive(scale["fixed_load"]["postgresql_1"]["postgres_cpu_pct"]["median"])
    assert positive(quick["ratio_postgresql_to_sqlite"]["p99_fixed_load"]["median"])
    for size, w in scale["record_writes_postgresql"].items():
        assert positive(w["commits_per_s"]) and positive(w["commit_ms"]["p50"]), size
    fo = quick["failover"]
    assert fo["failures"] == 0, fo["first_failures"]
    assert fo["served_again_s"]["n"] >= 1 and positive(fo["served_again_s"]["median"])


def test_the_load_spread_over_two_generator_processes_is_the_same_load():
    """`Run(generators=2)`: each process drives half the rooms on the one shared clock, and the
    merged run sends the same commands and receives the same deliveries as one process does."""
    import asyncio

    from bench.load import run_once

    async def both():
        return [await run_once(kind, 6, 2.0, 1.0, seed=5, generators=g)
                for kind in ("project", "relay") for g in (1, 2)]
    one_p, two_p, one_r, two_r = asyncio.run(both())
    for one, two in ((one_p, two_p), (one_r, two_r)):
        assert (two["commands"], two["deliveries"]) == (one["commands"], one["deliveries"]) and one["deliveries"] > 0
        assert two["errors"] == one["errors"] == {} and two["unmatched"] == 0
        assert two["generators"] == 2 and len(two["loadgen_cpu_each_pct"]) == 2
        assert positive(two["latency_ms"]["p99"])


def test_commits_are_checked_out_apart_and_a_wrong_one_is_named(tmp_path, needs_git, capsys):
    from bench import commits
    tree = commits._tree("HEAD", str(tmp_path))
    assert os.path.exists(os.path.join(tree, "bench", "tail.py"))
    assert os.path.exists(os.path.join(commits._tree("WORKTREE", str(tmp_path)), "bench", "commits.py"))
    with pytest.raises(SystemExit) as exc:
        commits._tree("no-such-commit", str(tmp_path))
    assert str(exc.value) == "bench.commits: no such commit: no-such-commit"
    with pytest.raises(SystemExit):
        commits.main(["HEAD"])
    assert "name at least two commits" in capsys.readouterr().err
