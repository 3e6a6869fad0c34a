"""docs/protocol.md's worked example (section 13) is what the server sends today.

The transcript is a capture by docs/examples/capture_session.py on a virtual clock, the same on every run: when
the server's frames change, this fails until the script's output is pasted into the document again.
"""
from __future__ import annotations

import difflib
import os
import subprocess
import sys

from tests.conftest import ROOT


def _documented() -> str:
    with open(os.path.join(ROOT, "docs", "protocol.md")) as f:
        s = f.read()
    start = s.index("```text\n", s.index("## 13. Worked example session")) + len("```text\n")
    return s[start:s.index("\n```\n", start) + 1]


def test_the_worked_example_is_a_fresh_capture():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, os.path.join(ROOT, "docs", "examples", "capture_session.py")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    doc = _documented()
    diff = "\n".join(difflib.unified_diff(doc.splitlines(), run.stdout.splitlines(), "docs/protocol.md",
                                          "capture_session.py", lineterm="", n=1))
    assert run.stdout == doc, "regenerate section 13 with docs/examples/capture_session.py:\n" + diff


async def test_a_resume_into_a_full_room_puts_the_participant_back_in_the_waiting_room(group):
    # docs/protocol.md section 10: the seat of a participant who left is gone once the room is full
    from protocol import commands as c
    from protocol import events as e
    await group.start(participants=("p1", "p2", "p3"), capacity=2)
    await group.admit("p1", "p2")
    p1 = group.clients["p1"]
    last = p1.last_seq
    await p1.command(c.Leave())
    await group.admit("p3")
    back = group.client("p1")
    welcome = await back.connect(resume=last)
    await back.sync()
    # a resume all the same: what they could hear since, ending with their own knock, which says where they are
    assert welcome.resumed and welcome.state is None
    got = [(x.aud, type(x.ev)) for x in back.events]
    assert got == [("all", e.Left), ("p:p1", e.ParticipantWaiting)]
    assert (await back.command(c.RaiseHand())).code == "not_admitted"


def _section(title: str) -> str:
    with open(os.path.join(ROOT, "docs", "protocol.md")) as f:
        s = f.read()
    start = s.index(title)
    end = s.find("\n## ", start + len(title))
    return s[start:end if end != -1 else len(s)]


def _table(text: str, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header row starts with `header`, cells unquoted."""
    lines = text[text.index(header):].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().split(" (")[0].strip("`") for c in line.strip("|").split("|")])
    return rows


def test_section_14_specifies_the_states_and_the_final_reasons_the_code_has():
    # one list of endings: the document, protocol/session.py and (tests/test_link_js.py) the page's
    from protocol import session
    spec = _section("## 14. The client's state machine")
    assert tuple(row[0] for row in _table(spec, "| state | meaning |")) == session.STATES
    assert dict(_table(spec, "| close reason | ending |")) == session.FINAL_REASONS
    assert f"**{session.REPLACED}**" in spec
    for code in session.FINAL_REFUSALS:
        assert f"`{code}`" in spec.split("final refusals")[0].rsplit("A refused hello", 1)[1]
    for kind, wait in session.RETRY_ONCE.items():
        assert f"`{kind}` (one quiet retry after {wait:g} s" in spec
