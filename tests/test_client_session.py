"""The client's side of the protocol, as stories told to the sans-I/O session (protocol/session.py):
no sockets, no event loop, no clock but the numbers passed in. docs/protocol.md section 14 is its
specification; tests/test_link_js.py runs the page's link.js through the same stories."""
from __future__ import annotations

import pytest

from protocol import session as s
from protocol.commands import RaiseHand
from protocol.frames import Ack, Error, EventFrame, Pong, Welcome, You, decode_client, encode
from protocol.events import HandRaised

ME = You(id="p1", name="Alex", role="participant")


def welcome(seq: int, resumed: bool = False) -> bytes:
    return encode(Welcome(protocol=1, room="r", you=ME, server_time=0.0, seq=seq, resumed=resumed))


def event(seq: int) -> bytes:
    return encode(EventFrame(seq=seq, at=0.0, aud="all", ev=HandRaised(person="p1")))


def sends(outputs) -> list:
    return [decode_client(o.data) for o in outputs if isinstance(o, s.Send)]


def live(session: s.Session, now: float = 0.0, seq: int = 3, resume: int | None = None) -> list:
    session.connected(now, resume)
    return session.receive(welcome(seq, resumed=resume is not None), now)


def test_the_hello_says_where_to_resume_and_the_position_follows_what_arrived():
    ses = s.Session("tok")
    hello = decode_client(ses.connected(0.0, None))
    assert (hello.token, hello.protocol, hello.resume) == ("tok", 1, None)
    assert ses.state == s.HELLO_SENT and ses.position is None
    ses.receive(welcome(3), 0.1)
    assert ses.state == s.LIVE and ses.position == 3
    out = ses.receive(event(4), 0.2)
    assert out == [s.Deliver(out[0].frame, repeat=False)] and ses.position == 4
    assert ses.receive(event(4), 0.25)[0].repeat                     # a repeat, for clients that skip them
    # the connection drops; the hello says 4, the resumed welcome's seq is the room's, and only
    # the replay after it moves the position (a drop mid-replay must not skip what it missed)
    ses.closed(None, "", 1.0)
    assert decode_client(ses.connected(2.0, ses.position)).resume == 4
    ses.receive(welcome(9, resumed=True), 2.0)
    assert ses.position == 4
    assert not ses.receive(event(6), 2.1)[0].repeat and ses.position == 6
    ses.receive(encode(Pong(id=0, seq=9)), 2.2)
    assert ses.position == 9


def test_a_command_lost_with_the_connection_goes_out_again_once_with_its_id():
    ses = s.Session("tok", retry=s.Retry())
    live(ses)
    first = sends(ses.command(RaiseHand(), "c-1", 0.5))
    assert [f.id for f in first] == ["c-1"]
    assert ses.closed(None, "", 1.0) == []               # kept: no answer, no give-up
    out = live(ses, 2.0, resume=3)
    assert [f.id for f in sends(out)] == ["c-1"]          # the same frame, the same id
    answered = ses.receive(encode(Ack(id="c-1", seq=4, duplicate=True)), 2.1)
    assert s.Answered("c-1", Ack(id="c-1", seq=4, duplicate=True)) in answered
    ses.closed(None, "", 3.0)
    assert sends(live(ses, 4.0, resume=4)) == []          # answered: never sent a third time


def test_alone_a_client_gives_up_on_a_command_when_its_connection_ends():
    ses = s.Session("tok")                                # the tests' and campaigns' SessionClient
    live(ses)
    ses.command(RaiseHand(), "c-1", 0.5)
    assert ses.closed(1006, "", 1.0) == [s.Unanswered("c-1")]


def test_the_console_retries_once_and_only_if_back_within_a_few_seconds():
    ses = s.Session("tok", retry=s.Retry(resends=1, within=3.0))
    live(ses)
    ses.command(RaiseHand(), "c-1", 0.5)
    ses.closed(None, "", 1.0)
    assert [f.id for f in sends(live(ses, 2.0))] == ["c-1"]
    assert ses.closed(None, "", 2.5) == [s.Unanswered("c-1")]     # the second loss: reported, not resent
    ses.command(RaiseHand(), "c-2", 3.0)                           # asked for while offline
    assert ses.next_tick() == 6.0
    assert ses.tick(5.9) == [] and ses.tick(6.1) == [s.Unanswered("c-2")]
    assert sends(live(ses, 7.0)) == []                             # never run by surprise


def test_the_waits_grow_to_their_cap_and_start_again_after_a_steady_connection():
    ses = s.Session("tok", backoff=s.Backoff((0.5, 1.0, 2.0), jitter=(1.0, 1.0), steady_after=5.0))
    waits = []
    for now in range(5):
        ses.failed(float(now))
        waits.append(ses.decision.at - now)
        assert ses.state == s.BACKING_OFF and ses.decision.why == "unreachable"
    assert waits == [0.5, 1.0, 2.0, 2.0, 2.0]
    live(ses, 10.0)
    ses.closed(None, "", 11.0)                             # live one second: not yet "back"
    assert ses.decision.at - 11.0 == 2.0 and ses.decision.why == "lost"
    live(ses, 20.0)
    ses.closed(None, "", 30.0)                             # live ten seconds: the count starts again
    assert ses.decision.at - 30.0 == 0.5


def test_jitter_and_the_consoles_doubling_schedule():
    assert s.Backoff.doubling(0.25, 8.0).delays == (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    assert s.Backoff.doubling(0.05, 0.2).delays == (0.05, 0.1, 0.2)
    b = s.Backoff((2.0,), jitter=(0.6, 1.0))
    assert b.delay(0, 0.0) == pytest.approx(1.2) and b.delay(7, 1.0) == 2.0


@pytest.mark.parametrize("reason,kind", sorted(s.FINAL_REASONS.items()))
def test_a_final_close_reason_stops_the_retries(reason, kind):
    ses = s.Session("tok", retry=s.Retry())
    live(ses)
    ses.command(RaiseHand(), "c-1", 0.5)
    out = ses.closed(1000 if kind in ("ended", "left", "removed", "denied") else 1008, reason, 1.0)
    if kind in s.RETRY_ONCE:
        assert ses.state == s.BACKING_OFF and ses.decision.at == 1.0 + s.RETRY_ONCE[kind]
        live(ses, 3.0)
        out = ses.closed(1008, reason, 3.1)
    assert ses.state == s.FINAL and ses.decision == s.Final(kind, reason)
    assert s.Unanswered("c-1") in out and ses.pending == {}


@pytest.mark.parametrize("code,reason,refusal,kind", [
    (4000, "replaced by a newer connection", None, "replaced"),
    (1008, "forbidden", Error(code="forbidden", message="you were removed from this session"), "removed"),
    (1008, "closed", Error(code="closed", message="the session has ended"), "ended"),
    (1008, "elsewhere", Error(code="forbidden", message="opened on another device"), "elsewhere"),
    (None, "", Error(code="version", message="this server speaks protocol 2"), "version"),
])
def test_refusals_and_replacements_are_final(code, reason, refusal, kind):
    ses = s.Session("tok")
    ses.connected(0.0)
    if refusal is not None:
        assert ses.receive(encode(refusal), 0.1)[-1] == s.Refused(refusal)
    ses.closed(code, reason, 0.2)
    assert ses.decision.kind == kind and ses.state == s.FINAL


@pytest.mark.parametrize("code,reason,refusal,why", [
    (1008, "closed", Error(code="closed", message="the session has not opened yet"), "not-open"),
    (1013, "try again later", Error(code="unavailable", message="try again"), "refused"),
    (1012, "the room moved to another server", None, "unreachable"),
    (None, "", None, "unreachable"),
])
def test_every_other_close_is_a_wait_and_another_try(code, reason, refusal, why):
    ses = s.Session("tok")
    ses.connected(0.0)
    if refusal is not None:
        ses.receive(encode(refusal), 0.1)
    ses.closed(code, reason, 0.2)
    assert ses.state == s.BACKING_OFF and ses.decision.why == why


def test_a_pong_answers_its_own_ping_and_is_a_barrier():
    ses = s.Session("tok")
    live(ses)
    pid, out = ses.ping(1.0)
    assert decode_client(out.data).id == pid
    assert not any(isinstance(o, s.Ponged) for o in ses.receive(encode(Pong(id=pid + 5, seq=3)), 1.1))
    got = ses.receive(encode(Pong(id=pid, seq=7)), 1.2)
    assert s.Ponged(pid, Pong(id=pid, seq=7)) in got and ses.position == 7 and ses.pings == {}


def test_the_heartbeat_pings_when_quiet_and_drops_a_silent_link():
    ses = s.Session("tok", heartbeat=s.Heartbeat(ping_every=2.0, dead_after=4.5, renew_every=15.0,
                                                 hello_within=6.0))
    ses.connected(0.0)
    assert ses.next_tick() == 6.0 and ses.tick(6.5) == [s.Drop("no welcome")]
    ses.connected(10.0)
    out = ses.receive(welcome(3), 10.0)
    assert [type(f).__name__ for f in sends(out)] == ["Ping"]       # the pong marks the end of the replay
    ses.receive(event(4), 11.0)
    assert ses.next_tick() == 13.0 and ses.tick(12.9) == []
    assert [type(f).__name__ for f in sends(ses.tick(13.0))] == ["Ping"]
    assert ses.tick(15.6) == [s.Drop("silent")]


def test_a_stopped_session_is_final_and_forgets_its_commands():
    ses = s.Session("tok", retry=s.Retry())
    live(ses)
    ses.command(RaiseHand(), "c-1", 0.5)
    ses.finish("closing")
    assert ses.closed(1000, "", 1.0) == [s.Unanswered("c-1")]
    assert ses.decision == s.Final("closing") and ses.state == s.FINAL


def test_a_request_that_must_not_run_twice_is_unanswered_when_its_connection_ends():
    # e.g. a program change asked of the server: checked twice, the second could be refused
    ses = s.Session("tok", retry=s.Retry())
    live(ses)
    ses.request({"t": "cmd", "id": "q-1", "cmd": {"do": "raise_hand"}}, "q-1", 0.5, retry=False)
    ses.command(RaiseHand(), "c-1", 0.6)
    assert ses.closed(None, "", 1.0) == [s.Unanswered("q-1")]
    assert [f.id for f in sends(live(ses, 2.0))] == ["c-1"]
