"""The group hears each other: real Janus, the real page in Chromium, real WebRTC.

Each story runs tests/voice_driver.py inside a network namespace of its own
(tests/netns.py): `session-server serve` starts Janus, pages join with fake
microphones, and who hears whom is read from each page's `getStats()`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.netns import NamespaceUnavailable, namespace

# who hears whom is read from audio packets as they arrive: alone on the machine (./run-tests)
pytestmark = pytest.mark.solo


def _run(story: str) -> dict:
    if shutil.which("janus") is None and not os.path.exists("/usr/bin/janus"):
        pytest.fail("janus is not installed (./run-tests installs Debian's janus)")
    try:
        with namespace() as ns:
            env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
            r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.voice_driver", story],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    except NamespaceUnavailable as exc:
        pytest.fail(str(exc))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "error" not in out, (out["error"], out.get("server_log_tail"), r.stderr[-2000:])
    return out


def test_a_room_of_four_hears_each_other_a_mute_holds_pods_hear_only_their_partner_and_a_removed_person_nobody():
    out = _run("group")
    people = ["p1", "p2", "p3", "p4"]
    everyone = {p: sorted(q for q in people if q != p) for p in people}
    assert out["room_of_four"] == everyone, out["room_of_four"]
    assert out["p2_muted"] == {p: sorted(q for q in people if q not in (p, "p2")) for p in people}, out["p2_muted"]
    assert "muted you" in out["p2_page_says"]
    assert all("p2" not in heard for heard in out["p2_muted_after_own_unmute"].values())
    assert out["p2_unmuted"] == everyone
    assert out["floor_held"] == {p: (["p3"] if p != "p3" else []) for p in people}, out["floor_held"]
    assert out["floor_open"] == everyone
    assert out["talking_events"] >= 1          # measured speech reaches the record, for staff
    pods = {p: sorted(q for pod in out["pods"] for q in pod if p in pod and q != p) for p in people}
    assert all(len(v) == 1 for v in pods.values()), out["pods"]
    assert out["in_pods"] == pods, out["in_pods"]
    assert out["back_together"] == everyone
    rest = [p for p in people if p != "p4"]
    assert {p: out["after_removal"][p] for p in rest} == {p: sorted(q for q in rest if q != p) for p in rest}
    assert out["after_removal"].get("p4", []) == [] and out["p4_voice_gone"]


def test_staff_listening_in_hear_the_pod_and_are_not_heard():
    out = _run("listen")
    pod1 = out["pods"][0]
    assert out["listening"]["f1"] == sorted(pod1), out["listening"]
    for p, heard in out["listening"].items():
        if p != "f1":
            assert "f1" not in heard, (p, heard)
    assert "VoiceJoined" in out["pod_told"]


def test_voice_comes_back_on_its_own_after_the_server_restarts():
    out = _run("recover")
    assert out["before"] == {"p1": ["p2"], "p2": ["p1"]}
    assert out["after"] == {"p1": ["p2"], "p2": ["p1"]}, out


def test_a_janus_that_already_runs_is_used_with_janus_url_and_its_secrets():
    out = _run("external")
    assert out["heard"] == {"p1": ["p2"], "p2": ["p1"]}, out
    assert "janus" not in out["server_children"], out["server_children"]   # it started none of its own
    assert out["janus_alive_after_server"]
