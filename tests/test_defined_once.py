"""Things defined once: each copy that has to stay (the page's JavaScript, a type annotation) is held to the one.

Role sets live in protocol/roles.py, the length of time as text in protocol/timefmt.py, the time left on a timer
in server/engine/timers.remaining, the chat lines a view keeps in server/engine/conversation.CHAT_KEPT.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import typing

import pytest

from facilitator.mirror import fmt_secs
from facilitator.participant.mirror import clock
from protocol import commands as c
from protocol.roles import LEADS, ROLES, STAFF_ROLES
from protocol.state import Timer
from protocol.timefmt import hms
from server.engine.conversation import CHAT_KEPT
from server.engine.timers import remaining
from server.scenarios.script import fmt_time
from tests.conftest import ROOT

JS = os.path.join(ROOT, "server", "web", "static", "js")


def test_the_role_sets():
    assert ROLES == ("facilitator", "cofacilitator", "observer", "participant")
    assert set(LEADS) < set(STAFF_ROLES) < set(ROLES) and "participant" not in STAFF_ROLES
    # a roster entry's role is a type the decoder checks: it names the same four, in the same order
    assert typing.get_args(typing.get_type_hints(c.RosterEntry)["role"]) == ROLES


def test_the_page_keeps_as_many_chat_lines_as_the_engine():
    with open(os.path.join(JS, "mirror.js")) as f:
        m = re.search(r"const CHAT_KEPT = (\d+);", f.read())
    assert m and int(m.group(1)) == CHAT_KEPT


def test_each_caller_rounds_its_own_way_and_writes_time_alike():
    assert [hms(s) for s in (0, 59, 60, 3599, 3600, 3661)] == ["0:00", "0:59", "1:00", "59:59", "1:00:00",
                                                               "1:01:01"]
    assert fmt_time(89.5) == "1:30" and fmt_time(3600.4) == "1:00:00"      # to the nearest second
    assert fmt_secs(89.9) == "1:29" and fmt_secs(-61) == "-1:01" and fmt_secs(None) == "--:--"   # down, signed
    assert clock(89.3) == "1:30" and clock(89.1) == "1:29" and clock(300.2) == "5:00" and clock(-3) == "0:00"     # up, never below zero


@pytest.mark.usefixtures("needs_node")
def test_the_pages_countdown_reads_as_the_terminal_clients():
    xs = [-5, 0, 0.1, 0.25, 0.26, 0.9, 1, 59.3, 59.8, 60, 61.2, 599.75, 3599.9, 3600, 3600.3, 7322.6]
    code = (f"const m = await import({json.dumps('file://' + os.path.join(JS, 'dom.js'))});"
            f"console.log(JSON.stringify({json.dumps(xs)}.map(m.clock)));")
    out = subprocess.run(["node", "--input-type=module", "-e", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [clock(x) for x in xs]


def test_time_left_never_below_zero_nor_above_the_length():
    t = Timer(id="t", seconds=60.0, state="running", ends_at=1060.0, remaining=60.0)
    assert remaining(t, 1030.0) == 30.0
    assert remaining(t, 1100.0) == 0.0
    assert remaining(t, 990.0) == 60.0          # a viewer's clock behind the server's
    paused = Timer(id="t", seconds=60.0, state="paused", remaining=12.5)
    assert remaining(paused, 5000.0) == 12.5
