"""The engine's side of what the console asked for (issue 14): stopping a go-around, moving
the agenda anywhere, resolving a flag, a low mood alerting the staff, and refusals that
name people as the facilitator knows them."""
from __future__ import annotations

from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack, Error


def of(client, kind):
    return [x.ev for x in client.events if isinstance(x.ev, kind)]


async def test_a_facilitator_stops_a_go_around_and_the_speaker_stops_with_it(group, server):
    f = await group.start(participants=("p1", "p2", "p3"))
    await group.admit("p1", "p2", "p3")
    stopped = await f.command(c.GoAroundStop())
    assert isinstance(stopped, Error) and stopped.code == "conflict"      # none runs yet
    assert isinstance(await f.command(c.GoAround(seconds=60)), Ack)
    assert isinstance(await f.command(c.GoAroundStop()), Ack)
    await f.sync()
    st = server.hub.rooms["r1"].visible
    assert st.go_around is None and st.speaker is None
    await group.clients["p2"].sync()
    assert of(group.clients["p2"], e.GoAroundEnded)                        # everyone learns it is over
    # nobody is called later by the round's old deadline
    assert server.hub.rooms["r1"].visible.turn_ends is None


async def test_the_agenda_goes_back_and_jumps(group, server):
    f = await group.start(agenda=[c.AgendaItem("Check-in", 10), c.AgendaItem("Topic", 30),
                                  c.AgendaItem("Wrap-up", 10)])
    assert isinstance(await f.command(c.AgendaGoto(index=2)), Ack)
    assert isinstance(await f.command(c.AgendaGoto(index=1)), Ack)
    await f.sync()
    st = server.hub.rooms["r1"].visible
    assert st.agenda_index == 1
    assert [x.title for x in of(f, e.AgendaAdvanced)][-2:] == ["Wrap-up", "Topic"]
    again = await f.command(c.AgendaGoto(index=1))
    assert isinstance(again, Error) and again.code == "conflict" and "Topic" in again.message
    beyond = await f.command(c.AgendaGoto(index=3))
    assert isinstance(beyond, Error) and beyond.code == "not_found"


async def test_a_flag_is_resolved_for_staff_only_and_the_record_keeps_it(group, server):
    f = await group.start(participants=("p1", "p2"))
    await group.admit("p1", "p2")
    none = await f.command(c.FlagClear(target="p1"))
    assert isinstance(none, Error) and none.code == "conflict" and "P1" in none.message
    assert isinstance(await f.command(c.Flag(target="p1", level="urgent", reason="said a plan")), Ack)
    assert isinstance(await f.command(c.FlagClear(target="p1", reason="spoke after group, safe")), Ack)
    await f.sync()
    st = server.hub.rooms["r1"].visible
    [mark] = st.members["p1"].flags
    assert mark.cleared_by == "f1" and mark.cleared_at is not None and mark.reason == "said a plan"
    assert not [a for a in st.alerts if a.kind == "flag" and a.person == "p1"]
    await group.clients["p1"].sync()
    assert not of(group.clients["p1"], e.FlagCleared)                      # staff only
    types = [t for _, _, _, t, _ in server.hub.record.events("r1")]
    assert "flagged" in types and "flag_cleared" in types
    # an observer may not clear a flag
    obs = group.client("o1", "observer")
    await obs.connect()
    assert (await obs.command(c.FlagClear(target="p1"))).code == "forbidden"


async def test_a_low_named_mood_alerts_the_staff_once(group, server):
    f = await group.start(participants=("p1", "p2"))
    await group.admit("p1", "p2")
    assert isinstance(await f.command(c.PollCreate(id="mood", kind="scale", min=0, max=10, question="Mood?",
                                                   alert_at_or_below=3)), Ack)
    assert isinstance(await f.command(c.PollOpen(id="mood")), Ack)
    assert isinstance(await group.clients["p1"].command(c.Vote(id="mood", value=2)), Ack)
    assert isinstance(await group.clients["p1"].command(c.Vote(id="mood", value=1)), Ack)   # still low: no repeat
    assert isinstance(await group.clients["p2"].command(c.Vote(id="mood", value=7)), Ack)
    await f.sync()
    alerts = of(f, e.QuestionnaireAlert)
    assert [(a.person, a.kind, a.total) for a in alerts] == [("p1", "low_score", 2)]
    await group.clients["p2"].sync()
    assert not of(group.clients["p2"], e.QuestionnaireAlert)
    # an anonymous poll names nobody, so it cannot alert about anyone
    anon = await f.command(c.PollCreate(id="anon", kind="scale", question="Mood?", anonymous=True,
                                        alert_at_or_below=3))
    assert isinstance(anon, Error) and anon.code == "invalid"


async def test_refusals_name_people_by_their_display_name(group):
    f = await group.start(participants=("p-morgan",))
    cl = group.client("p-morgan", name="Morgan")
    await cl.connect()
    assert isinstance(await f.command(c.Admit(target="p-morgan")), Ack)
    for cmd in (c.MoveInQueue(target="p-morgan", position=1), c.LowerHand(target="p-morgan"),
                c.Admit(target="p-morgan")):
        r = await f.command(cmd)
        assert isinstance(r, Error) and r.code == "conflict", r
        assert "p-morgan" not in r.message and "Morgan" in r.message, r.message
