"""session-server's commands: one clear line for bad input, the exports as specified."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import subprocess
import sys

import pytest

from server import tokens
from tests.conftest import SCENARIOS


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True,
                          timeout=120, **kw)


@pytest.fixture(scope="module")
def evening(tmp_path_factory):
    d = tmp_path_factory.mktemp("ev")
    db = str(d / "record.db")
    r = run("replay", os.path.join(SCENARIOS, "evening_group_90min.toml"), "--db", db)
    assert r.returncode == 0, r.stdout + r.stderr
    from server.scenarios.script import load
    return db, load(os.path.join(SCENARIOS, "evening_group_90min.toml"))


@pytest.mark.parametrize("sub", ["serve", "token", "invite", "replay", "export", "verify"])
def test_every_command_has_help(sub):
    r = run(sub, "--help")
    assert r.returncode == 0 and "usage:" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["serve", "--prot", "1"], "unrecognized arguments: --prot"),
    (["token", "--room", "r"], "required"),
    (["token", "--room", "r", "--role", "king", "--name", "x"], "invalid choice: 'king'"),
    (["verify", "--db", "/nonexistent/x.db"], "no such record: /nonexistent/x.db"),
    (["export", "--db", "/nonexistent/x.db", "--format", "jsonl", "--room", "r"], "no such record"),
    (["serve", "--certfile", "/nonexistent/c.pem", "--keyfile", "/nonexistent/k.pem"], "no such file"),
    (["serve", "--janus", "ws://127.0.0.1:8188"], "--janus URL needs --janus-secrets FILE"),
])
def test_bad_input_gets_one_clear_line(args, needle, tmp_path):
    r = run(*args, "--secret-file", str(tmp_path / "s")) if args[0] in ("serve",) else run(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_token_round_trip_and_secret_file_is_private(tmp_path):
    sf = str(tmp_path / "secret")
    r = run("token", "--room", "tue", "--role", "observer", "--name", "Supervisor", "--id", "o1",
            "--ttl", "2h", "--secret-file", sf)
    assert r.returncode == 0
    assert stat.S_IMODE(os.stat(sf).st_mode) == 0o600
    claims = tokens.verify(tokens.load_secret(sf), r.stdout.strip(), now=0)
    assert (claims.room, claims.role, claims.id, claims.name) == ("tue", "observer", "o1", "Supervisor")


def test_attendance_csv_as_specified(evening, tmp_path):
    db, sc = evening
    out = str(tmp_path / "att.csv")
    r = run("export", "--db", db, "--room", sc.room, "--format", "attendance-csv", "--out", out)
    assert r.returncode == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    text = open(out).read()
    # the original nine columns keep their order; the new ones follow
    assert text.splitlines()[0] == ("participant_id,name,status,first_joined,last_left,minutes_present,"
                                    "late_minutes,left_early_minutes,drops,arrived,waiting_minutes,removed_at")
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = [p.id for p in sc.people.values() if p.role == "participant" and p.expected]
    assert {r["participant_id"] for r in rows} >= set(expected)
    statuses = {r["status"] for r in rows}
    assert statuses <= {"attended", "removed", "absent", "excused"} and "attended" in statuses and "excused" in statuses
    for row in rows:
        for k in ("minutes_present", "late_minutes", "left_early_minutes", "waiting_minutes"):
            assert re.fullmatch(r"\d+\.\d", row[k]), row
        assert (row["status"] == "removed") == bool(row["removed_at"]), row
        for k in ("first_joined", "last_left", "arrived", "removed_at"):
            assert row[k] == "" or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", row[k]), row
        if row["status"] == "attended":
            assert row["first_joined"] and row["last_left"]


def test_jsonl_export_has_every_row(evening):
    db, sc = evening
    r = run("export", "--db", db, "--room", sc.room, "--format", "jsonl")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    from server.record import Record
    assert len(lines) == sum(1 for _ in Record(db).rows(sc.room))
    assert all("event" in x or "refused" in x for x in lines)


def test_absences_across_sessions(tmp_path):
    db = str(tmp_path / "two.db")
    for name in ("evening_group_90min.toml", "attendance_drops.toml"):
        assert run("replay", os.path.join(SCENARIOS, name), "--db", db).returncode == 0
    r = run("export", "--db", db, "--format", "absences")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and {x["status"] for x in rows} <= {"absent", "excused"}
    assert len({x["room"] for x in rows}) >= 1
