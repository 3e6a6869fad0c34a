"""Group features beyond the scenario vocabulary: listening in, answering help,
questionnaires with alerts, warnings before the end, late joiners during breakouts."""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack, Error


def of(client, kind):
    return [x.ev for x in client.events if isinstance(x.ev, kind)]


async def test_a_facilitator_listens_in_and_the_record_shows_it(group, server):
    f = await group.start(participants=("p1", "p2", "p3", "p4"))
    await group.admit("p1", "p2", "p3", "p4")
    assert isinstance(await f.command(c.BreakoutsPlan(rooms=2, seed=1)), Ack)
    assert isinstance(await f.command(c.BreakoutsOpen(minutes=5)), Ack)
    assert isinstance(await f.command(c.ListenIn(room=2)), Ack)
    assert (await f.command(c.ListenIn(room=7))).code == "not_found"
    await f.sync()
    assert server.hub.rooms["r1"].visible.members["f1"].listening == 2
    types = [t for _, _, _, t, _ in server.hub.record.events("r1")]
    assert "listened_in" in types
    # participants are not told who listens
    for pid in ("p1", "p2"):
        await group.clients[pid].sync()
        assert not of(group.clients[pid], e.ListenedIn)


async def test_breakout_chat_and_help_stay_in_the_room_and_reach_staff(group, server):
    f = await group.start(participants=("p1", "p2", "p3", "p4"))
    await group.admit("p1", "p2", "p3", "p4")
    await f.command(c.BreakoutsPlan(rooms=2, seed=3))
    await f.command(c.BreakoutsOpen(minutes=5))
    await f.sync()
    rooms = server.hub.rooms["r1"].visible.rooms
    a, b = rooms[0][0], rooms[1][0]
    mate = rooms[0][1]
    await group.clients[a].command(c.Chat(text="pod talk"))
    r = await group.clients[a].command(c.HelpRequest(text="we are stuck"))
    assert isinstance(r, Ack)
    for cl in group.clients.values():
        await cl.sync()
    assert [x.text for x in of(group.clients[mate], e.ChatPosted)] == ["pod talk"]
    assert of(group.clients[b], e.ChatPosted) == []
    assert of(group.clients[mate], e.HelpRequested) == []
    helps = of(f, e.HelpRequested)
    assert len(helps) == 1 and helps[0].room == 1
    # unanswered, it stays visible to staff until someone acknowledges it
    st = server.hub.rooms["r1"].visible
    assert st.help[helps[0].help_id].acknowledged_by is None
    assert isinstance(await f.command(c.HelpAcknowledge(help_id=helps[0].help_id)), Ack)
    await group.clients[a].sync()
    assert of(group.clients[a], e.HelpAcknowledged)      # the asker learns someone is coming
    assert (await f.command(c.HelpAcknowledge(help_id=helps[0].help_id))).code == "conflict"


async def test_questionnaire_totals_of_three_alert_facilitators_only(group, server):
    f = await group.start(participants=("p1", "p2"))
    await group.admit("p1", "p2")
    assert isinstance(await f.command(c.PollCreate(id="phq", kind="phq2")), Ack)
    assert (await f.command(c.PollCreate(id="bad", kind="gad2", anonymous=True))).code == "invalid"
    await f.command(c.PollOpen(id="phq"))
    assert isinstance(await group.clients["p1"].command(c.Vote(id="phq", answers=[2, 1])), Ack)
    assert isinstance(await group.clients["p2"].command(c.Vote(id="phq", answers=[1, 0])), Ack)
    assert (await group.clients["p2"].command(c.Vote(id="phq", answers=[4, 0]))).code == "invalid"
    for cl in group.clients.values():
        await cl.sync()
    alerts = of(f, e.QuestionnaireAlert)
    assert [(x.person, x.total) for x in alerts] == [("p1", 3)]
    assert not of(group.clients["p1"], e.QuestionnaireAlert) and not of(group.clients["p2"], e.QuestionnaireAlert)
    # each participant sees only their own answer
    assert [v.person for v in of(group.clients["p2"], e.VoteCast)] == ["p2"]


async def test_late_joiner_during_breakouts_waits_in_the_main_room_to_be_placed(group, server):
    f = await group.start(participants=("p1", "p2", "p3", "p4", "p5"))
    await group.admit("p1", "p2", "p3", "p4")
    await f.command(c.BreakoutsPlan(size=2, seed=0))
    await f.command(c.BreakoutsOpen(minutes=10))
    await group.admit("p5")
    await f.sync()
    st = server.hub.rooms["r1"].visible
    assert st.members["p5"].breakout is None
    assert isinstance(await f.command(c.BreakoutsMove(target="p5", room=1)), Ack)
    await f.sync()
    assert st.members["p5"].breakout == 1 and "p5" in st.rooms[0]


async def test_open_breakouts_rejects_a_plan_that_cannot_keep_the_rules(group):
    f = await group.start(participants=("p1", "p2", "p3"))
    await group.admit("p1", "p2", "p3")
    r = await f.command(c.BreakoutsPlan(rooms=3, together=[["p1", "p2"]]))
    # the rule is named by display names (the tokens call p1 "P1"), never by ids
    assert isinstance(r, Error) and r.code == "conflict" and "P1" in r.message and "P2" in r.message
    assert "p1" not in r.message and "p2" not in r.message
