"""The demo turns the satisfaction survey on, and its simulated people answer it, so someone
trying the console sees `S` fill in as it would on a real evening."""
from __future__ import annotations

import asyncio
import os

from facilitator import demo
from facilitator.local import as_facilitator
from protocol import commands as c
from server.app import EmbeddedServer
from server.engine.survey import ITEMS
from tests.test_snapshot_fold import _Faster


async def test_the_demo_groups_people_answer_the_survey(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "asyncio", _Faster(20))
    srv = await EmbeddedServer(str(tmp_path / "demo.db"), os.urandom(32)).start()
    group = demo.DemoGroup(srv, "demo-room", seed=3)
    try:
        await group.start()
        host = srv.hub.rooms["demo-room"]
        assert host.visible.survey_enabled
        for _ in range(100):        # the people arrive (auto-admitted) over the demo's first seconds
            if sum(m.status == "present" for m in host.visible.members.values() if m.role == "participant") >= 6:
                break
            await asyncio.sleep(0.05)
        await as_facilitator(srv, "demo-room", c.SurveyOpen())
        for _ in range(200):
            if len(host.visible.survey.ratings) >= 4:
                break
            await asyncio.sleep(0.05)
        ratings = host.visible.survey.ratings
        assert len(ratings) >= 4, ratings
        assert all(len(r) == len(ITEMS) and all(1 <= x <= 5 for x in r) for r in ratings.values())
        assert set(ratings) <= {m.id for m in host.visible.members.values() if m.role == "participant"}
    finally:
        await group.stop()
        await srv.stop()
