"""The page's link follows the same machine as every Python client (docs/protocol.md section 14).

server/web/static/js/session.js is the twin of protocol/session.py. Here both read the same stories,
under Node (tests/js/session_stories.mjs) and in Python, and must say the same things at every
step: the state, the position, the decision and every output. Their tables (states, final close
reasons, final refusals, the quiet retry) must be equal, so that the two lists cannot drift again."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from protocol import frames as fr
from protocol import session as s
from protocol.commands import RaiseHand
from protocol.events import HandRaised

HERE = os.path.dirname(__file__)
MACHINE = os.path.join(HERE, "..", "server", "web", "static", "js", "session.js")
STORIES_JS = os.path.join(HERE, "js", "session_stories.mjs")

pytestmark = pytest.mark.usefixtures("needs_node")

ME = fr.You(id="p1", name="Alex", role="participant")


def j(frame) -> str:
    return fr.encode(frame, binary=False)


def welcome(seq, resumed=False):
    return j(fr.Welcome(protocol=1, room="r", you=ME, server_time=0.0, seq=seq, resumed=resumed))


def event(seq):
    return j(fr.EventFrame(seq=seq, at=0.0, aud="all", ev=HandRaised(person="p1")))


def error(code, message, cid=None):
    return j(fr.Error(id=cid, code=code, message=message))


def live(t, seq=3, resume=None):
    return [["opening", t], ["connected", t, resume], ["receive", t, welcome(seq, resume is not None)]]


STORIES = [
    # a fresh welcome, events, a repeat, a drop, a resume whose replay moves the position, a pong
    live(0.0) + [["receive", 0.1, event(4)], ["receive", 0.2, event(4)], ["tick", 1.0],
                 ["closed", 1.5, 1006, ""], ["tick", 1.6], ["tick", 2.0]]
    + live(2.0, 9, 4) + [["receive", 2.1, event(7)], ["receive", 2.2, j(fr.Pong(id=1, seq=9))],
                         ["tick", 8.0], ["closed", 12.0, None, ""]],
    # a command lost with its connection goes out again after the welcome, once; then answered
    live(0.0) + [["command", 0.5, "c-1"], ["closed", 0.6, 1006, ""], ["command", 0.7, "c-2"]]
    + live(1.0, 3, 3) + [["receive", 1.1, j(fr.Ack(id="c-1", seq=4, duplicate=True))],
                         ["receive", 1.2, error("conflict", "your hand is already raised", "c-2")],
                         ["closed", 1.3, 1006, ""]] + live(2.0, 4, 4),
    # every final close reason, each on its own connection
    *[live(0.0) + [["command", 0.1, "c-1"], ["closed", 0.5, 1000, reason]] + live(3.0)
      + [["closed", 3.5, 1008, reason]]
      for reason in sorted(s.FINAL_REASONS)],
    # replaced; refusals that end it, and those that wait and try again
    live(0.0) + [["closed", 1.0, 4000, "replaced by a newer connection"]],
    [["opening", 0.0], ["connected", 0.0, None], ["receive", 0.1, error("forbidden", "you were removed")],
     ["closed", 0.2, 1008, "forbidden"]],
    [["opening", 0.0], ["connected", 0.0, None], ["receive", 0.1, error("closed", "the session has ended")],
     ["closed", 0.2, 1008, "closed"]],
    [["opening", 0.0], ["connected", 0.0, None], ["receive", 0.1, error("version", "protocol 2")],
     ["closed", 0.2, None, ""]],
    [["opening", 0.0], ["connected", 0.0, None], ["receive", 0.1, error("closed", "the session has not opened yet")],
     ["closed", 0.2, 1008, "closed"], ["opening", 1.0], ["failed", 1.5],
     ["opening", 3.0], ["connected", 3.0, None], ["receive", 3.1, error("unavailable", "the server is stopping")],
     ["closed", 3.2, 1008, "unavailable"]],
    # the waits grow to their cap; a steady connection starts the count again
    [["failed", float(t)] for t in range(6)] + live(10.0) + [["closed", 11.0, 1006, ""]]
    + live(20.0) + [["closed", 30.0, 1006, ""]],
    # the heartbeat: an attempt that hangs, pings when quiet, a silent link dropped
    [["opening", 0.0], ["tick", 5.0], ["tick", 6.5], ["closed", 6.5, 1006, ""]]
    + live(10.0) + [["receive", 10.5, j(fr.Pong(id=1, seq=3))], ["tick", 12.0], ["tick", 12.6],
                    ["receive", 13.0, event(4)], ["tick", 14.0], ["tick", 17.7]],
    # the person's own stop: final, and nothing is sent again
    live(0.0) + [["command", 0.1, "c-1"], ["ping", 0.2], ["finish", 0.3, "closing"], ["closed", 0.4, 1000, ""]],
]


def said(o) -> str:
    if isinstance(o, s.Send):
        f = fr.decode_client(o.data)
        return f"hello resume={json.dumps(f.resume)}" if isinstance(f, fr.Hello) else \
            f"send {f.__struct_config__.tag} {f.id}"
    if isinstance(o, s.Deliver):
        tag = o.frame.__struct_config__.tag
        return f"{'repeat' if o.repeat else 'deliver'} {tag}" + (f" {o.frame.seq}" if tag == "event" else "")
    if isinstance(o, s.Answered):
        return f"answered {o.id}"
    if isinstance(o, s.Ponged):
        return f"ponged {o.id}"
    if isinstance(o, s.Refused):
        return f"refused {o.error.code}"
    if isinstance(o, s.Drop):
        return f"drop {o.why}"
    return f"unanswered {o.id}"


def decision(d):
    if d is None:
        return None
    return ["final", d.kind, d.message] if isinstance(d, s.Final) else ["reconnect", round(d.at, 6), d.why]


def page_session(policy) -> s.Session:
    b, h, r = policy["backoff"], policy["heartbeat"], policy["retry"]
    return s.Session("tok", binary=False, rand=lambda: 0.5,
                     backoff=s.Backoff(tuple(b["delays"]), tuple(b["jitter"]), b["steady_after"]),
                     heartbeat=s.Heartbeat(**h), retry=s.Retry(**r))


def python_trace(story, policy):
    ses = page_session(policy)
    steps = []
    for op, now, *args in story:
        out = []
        if op == "opening":
            ses.opening(now)
        elif op == "connected":
            out = [s.Send(ses.connected(now, args[0]))]
        elif op == "receive":
            out = ses.receive(args[0], now)
        elif op == "closed":
            out = ses.closed(args[0], args[1], now)
        elif op == "failed":
            ses.failed(now)
        elif op == "tick":
            out = ses.tick(now)
        elif op == "command":
            out = ses.command(RaiseHand(), args[0], now)
        elif op == "ping":
            out = [ses.ping(now)[1]]
        elif op == "finish":
            ses.finish(args[0])
        steps.append({"state": ses.state, "position": ses.position, "decision": decision(ses.decision),
                      "out": [said(o) for o in out]})
    return steps


@pytest.fixture(scope="module")
def page():
    run = subprocess.run(["node", STORIES_JS], input=json.dumps({"module": os.path.abspath(MACHINE),
                                                                 "stories": STORIES}),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_the_page_has_the_same_states_and_the_same_endings(page):
    t = page["tables"]
    assert tuple(t["STATES"]) == s.STATES
    assert t["FINAL_REASONS"] == s.FINAL_REASONS
    assert t["REPLACED"] == s.REPLACED
    assert tuple(t["FINAL_REFUSALS"]) == s.FINAL_REFUSALS
    assert t["RETRY_ONCE"] == s.RETRY_ONCE


@pytest.mark.parametrize("n", range(len(STORIES)))
def test_the_page_tells_each_story_as_the_python_session_does(page, n):
    assert page["traces"][n] == python_trace(STORIES[n], page["tables"]["POLICY"])
