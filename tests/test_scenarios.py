"""Every scenario in the library plays green through real websockets, and the
record rebuilds exactly the room the live server held (checked by the runner
at the end of each play: `replay_faithful`, plus every staff console's mirror)."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from server.scenarios.runner import run_scenario_async
from tests.conftest import SCENARIOS

FILES = sorted(glob.glob(os.path.join(SCENARIOS, "*.toml")))


def test_library_is_large_enough():
    assert len(FILES) >= 12
    # the longest story covers a whole 90-minute evening group
    from server.scenarios.script import load
    assert max(load(f).duration for f in FILES) >= 90 * 60


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(f)[:-5] for f in FILES])
async def test_scenario_plays_green(path, tmp_path):
    result = await run_scenario_async(path, str(tmp_path / "record.db"))
    assert result.passed, "\n".join(str(f) for f in result.failures)
    assert result.faithful
    assert result.checks > 0


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_wrong_expectation_exits_1_naming_step_expected_and_seen(tmp_path):
    src = open(os.path.join(SCENARIOS, "speaking_queue_fifo.toml")).read()
    # find the first speaker expectation and make it wrong
    import re
    m = re.search(r'speaker = "(\w+)"', src)
    assert m
    bad = src[:m.start()] + 'speaker = "nobody_here"' + src[m.end():]
    bad = bad.replace('speaker = "nobody_here"', f'speaker = "{m.group(1)}x"', 1)
    f = tmp_path / "bad.toml"
    f.write_text(bad)
    r = _cli("replay", str(f))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL step" in r.stdout and f"expected speaker = '{m.group(1)}x'" in r.stdout
    assert f"saw '{m.group(1)}'" in r.stdout
    r = _cli("replay", str(f), "--json")
    summary = json.loads(r.stdout)
    assert summary["passed"] is False and summary["failed"] == 1


@pytest.mark.parametrize("body,needle", [
    ('[[people]]\nid="a"\n[[steps]]\nat="1:00"\nwho="a"\ndo="join"\n[[steps]]\nat="0:30"\nwho="a"\ndo="join"\n',
     "line 10: step 2: time goes back"),
    ('[[people]]\nid="a"\n[[steps]]\nwho="a"\ndo="fly"\n', "line 7: step 1: unknown command 'fly'"),
    ('[[people]]\nid="a"\n[[steps]]\nwho="zed"\ndo="join"\n', "line 6: step 1: unknown person 'zed'"),
    ('[[people]]\nid="a"\nrole="facilitator"\n[[steps]]\nwho="a"\ndo="go_around"\nseconds="ten"\n',
     "line 9: step 1: bad argument for `go_around`: Expected `int`, got `str`"),
    ('[[people]]\nid="a"\n[[steps]]\nwho="a"\ndo="join"\n[steps.expect]\nspeakr="a"\n',
     "unknown expectation 'speakr'"),
])
def test_invalid_file_exits_2_naming_line_and_problem(tmp_path, body, needle):
    f = tmp_path / "s.toml"
    f.write_text('[session]\nroom = "x"\n' + body)
    r = _cli("replay", str(f))
    assert r.returncode == 2
    assert needle in r.stderr, r.stderr


def test_missing_scenario_file_is_one_line(tmp_path):
    r = _cli("replay", str(tmp_path / "nope.toml"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no such scenario file" in r.stderr


def test_review_of_a_recorded_session(tmp_path):
    db = str(tmp_path / "rec.db")
    path = os.path.join(SCENARIOS, "evening_group_90min.toml")
    assert _cli("replay", path, "--db", db).returncode == 0
    from server.scenarios.script import load
    room = load(path).room
    r = _cli("replay", "--db", db, "--room", room, "--json")
    out = json.loads(r.stdout)
    assert out["state"]["phase"] == "closed"
    assert any("session opened" == e["event"] for e in out["timeline"])
    r = _cli("replay", "--db", db, "--room", room, "--at", "0:45:00", "--json")
    mid = json.loads(r.stdout)["state"]
    assert mid["phase"] == "open" and mid["at"] == "45:00"
    assert "timeline" not in json.loads(r.stdout)
    r = _cli("replay", "--db", db, "--room", room, "--at", "0:45:00")
    assert "present (" in r.stdout and "attendance:" in r.stdout
    # a reviewing clinician reads names, not ids
    someone = next(p for p in load(path).people.values() if p.role == "participant" and p.name != p.id)
    assert someone.name in r.stdout


async def test_timer_expiries_fire_at_the_exact_second_the_script_implies(tmp_path):
    """The evening group starts a 10-minute break at 0:51:30: the record says it
    ended at 1:01:30 to the second, and its one-minute warning at 1:00:30."""
    import msgspec

    from protocol import events as e
    from server.record import Record
    from server.scenarios.runner import EPOCH
    from server.scenarios.script import load
    path = os.path.join(SCENARIOS, "evening_group_90min.toml")
    db = str(tmp_path / "r.db")
    assert (await run_scenario_async(path, db)).passed
    dec = msgspec.msgpack.Decoder(e.AnyEvent)
    at = {}
    for seq, t, aud, typ, body in Record(db).events(load(path).room):
        ev = dec.decode(body)
        if isinstance(ev, (e.TimerExpired, e.TimerWarning)) and ev.id == "break":
            at[typ] = t - EPOCH
    assert at == {"timer_warning": 3630.0, "timer_expired": 3690.0}
