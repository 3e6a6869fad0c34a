"""Someone in the waiting room can call for help; nothing else opens before admission."""
from __future__ import annotations

from protocol import commands as c
from protocol.frames import Ack, Error


async def test_a_person_at_the_door_can_ask_for_help_privately(group):
    f = await group.start(participants=("p1", "p2"))
    await group.admit("p2")
    p1 = group.client("p1")
    await p1.connect()
    r = await p1.command(c.HelpRequest(text="I can't stop shaking"))
    assert isinstance(r, Ack), r
    await f.sync()
    await group.clients["p2"].sync()
    helps = [fr.ev for fr in f.events if type(fr.ev).__struct_config__.tag == "help_requested"]
    assert [(h.person, h.room, h.text) for h in helps] == [("p1", 0, "I can't stop shaking")]
    assert not any(type(fr.ev).__struct_config__.tag == "help_requested" for fr in group.clients["p2"].events)
    assert any(type(fr.ev).__struct_config__.tag == "help_requested" for fr in p1.events)
    # still at the door for everything else
    r = await p1.command(c.Chat(text="hello?"))
    assert isinstance(r, Error) and r.code == "not_admitted"
    r = await f.command(c.HelpAcknowledge(help_id=helps[0].help_id))
    assert isinstance(r, Ack), r
