"""The join link is exchanged, at its first use on a device, for a short-lived device credential.

Spoken to a real server as a browser speaks (JSON text frames), so that the
rules hold on the real hello path: a second tab cannot take the place over,
the newest device wins once the first is gone, leaving revokes the device,
and terminal clients keep using the link as before.
"""
from __future__ import annotations

import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from protocol import commands as c
from server import tokens
from server.client import SessionClient

ROOM = "r1"


async def hello(server, token, device=True):
    ws = await connect(server.url)
    await ws.send(json.dumps({"t": "hello", "token": token, "protocol": 1, "resume": None, "device": device}))
    first = json.loads(await ws.recv())
    return ws, first


async def recv_type(ws, t, timeout=5.0):
    import asyncio
    async def go():
        while True:
            f = json.loads(await ws.recv())
            if f["t"] == t:
                return f
    return await asyncio.wait_for(go(), timeout)


async def closed_reason(ws) -> str:
    with pytest.raises(ConnectionClosed):
        while True:
            await ws.recv()
    return ws.close_reason


@pytest.fixture
async def fac(group):
    f = await group.start(participants=("p1",))
    return f


async def test_a_link_becomes_a_device_credential_and_a_second_tab_is_refused(server, fac):
    link = server.token(ROOM, "participant", "p1", "Alex")
    ws1, first = await hello(server, link)
    assert first["t"] == "welcome"
    dev = await recv_type(ws1, "device")
    claims = tokens.verify(server.secret, dev["credential"], time.time())
    assert (claims.room, claims.id, claims.role) == (ROOM, "p1", "participant") and claims.dev
    assert dev["expires"] <= time.time() + tokens.DEVICE_TTL + 1
    assert dev["expires"] == pytest.approx(claims.exp)

    # the same link in a second tab, while the first is connected: refused, and the first stays
    ws2, refusal = await hello(server, link)
    assert refusal == {"t": "error", "id": None, "code": "conflict",
                       "message": "this link is already open in another tab or on another device"}
    assert await closed_reason(ws2) == "in use"
    await ws1.send(json.dumps({"t": "ping", "id": 1}))
    assert (await recv_type(ws1, "pong"))["id"] == 1

    # the device credential comes back in, even while its old connection still looks alive
    ws3, again = await hello(server, dev["credential"])
    assert again["t"] == "welcome"
    assert await closed_reason(ws1) == "replaced by a newer connection"
    await ws3.close()

    # once the first device is gone, the link opened elsewhere wins, and retires the old credential
    import asyncio
    await asyncio.sleep(0.2)
    ws4, w4 = await hello(server, link)
    assert w4["t"] == "welcome"
    newer = await recv_type(ws4, "device")
    assert newer["credential"] != dev["credential"]
    await ws4.close()
    await asyncio.sleep(0.2)
    ws5, stale = await hello(server, dev["credential"])
    assert stale["code"] == "forbidden" and "another device" in stale["message"]
    assert await closed_reason(ws5) == "elsewhere"


async def test_a_connected_device_has_its_credential_renewed(server, fac, monkeypatch):
    monkeypatch.setattr(tokens, "DEVICE_TTL", 3.0)
    ws, _ = await hello(server, server.token(ROOM, "participant", "p1", "Alex"))
    first = await recv_type(ws, "device")
    await ws.send(json.dumps({"t": "ping", "id": 1}))
    f = json.loads(await ws.recv())
    assert f["t"] == "pong", "no renewal before a third of the credential's life"
    import asyncio
    await asyncio.sleep(1.1)
    await ws.send(json.dumps({"t": "ping", "id": 2}))
    renewed = await recv_type(ws, "device")
    assert renewed["expires"] > first["expires"]
    claims = tokens.verify(server.secret, renewed["credential"], time.time())
    assert claims.dev == tokens.verify(server.secret, first["credential"], time.time()).dev
    await ws.close()


async def test_leaving_revokes_the_device(server, fac):
    link = server.token(ROOM, "participant", "p1", "Alex")
    ws, _ = await hello(server, link)
    dev = await recv_type(ws, "device")
    await ws.send(json.dumps({"t": "cmd", "id": "x1", "cmd": {"do": "leave"}}))
    assert (await recv_type(ws, "ack"))["id"] == "x1"
    assert await closed_reason(ws) == "left"
    ws2, refusal = await hello(server, dev["credential"])
    assert refusal["code"] == "unauthorized" and "left" in refusal["message"]
    assert await closed_reason(ws2) == "unauthorized"


async def test_a_device_that_left_stays_out_after_a_restart_and_on_another_server(tmp_path):
    """Who left is in the record: a server that restarts (or takes the room over) knows nothing
    of the first one's devices, yet a credential issued before the leave still opens nothing;
    the person's link brings them back, with a new credential that does work there."""
    import asyncio
    import secrets as _secrets

    from server.app import EmbeddedServer
    from tests.conftest import Group
    db, key = str(tmp_path / "record.db"), _secrets.token_bytes(32)
    first = await EmbeddedServer(db, key).start()
    group = Group(first)
    f = await group.start(participants=("p1",))
    link = first.token(ROOM, "participant", "p1", "Alex")
    ws, _ = await hello(first, link)
    old = (await recv_type(ws, "device"))["credential"]
    for cid, cmd in (("a1", {"do": "accept_agreement"}), ("a2", {"do": "check_in", "location": "Home"})):
        await ws.send(json.dumps({"t": "cmd", "id": cid, "cmd": cmd}))
        answer = await recv_type(ws, "ack")
        assert answer["id"] == cid, answer
    assert (await f.command(c.Admit(target="p1"))).seq                       # in the room, then leaves it
    await ws.send(json.dumps({"t": "cmd", "id": "x1", "cmd": {"do": "leave"}}))
    assert (await recv_type(ws, "ack"))["id"] == "x1"
    assert await asyncio.wait_for(closed_reason(ws), 5) == "left"
    assert first.hub.rooms[ROOM].visible.members["p1"].status == "left"
    await group.close()
    await first.stop()

    again = await EmbeddedServer(db, key).start()      # empty device registry: only the record knows
    try:
        ws2, refusal = await hello(again, old)
        assert refusal["code"] == "unauthorized" and "left the session" in refusal["message"], refusal
        assert await closed_reason(ws2) == "unauthorized"
        ws3, back = await hello(again, link)          # the link itself still brings them back
        assert back["t"] == "welcome"
        fresh = (await recv_type(ws3, "device"))["credential"]
        await ws3.close()
    finally:
        await again.stop()
    third = await EmbeddedServer(db, key).start()
    try:
        ws4, w = await hello(third, fresh)              # issued after the leave: it opens the place
        assert w["t"] == "welcome", w
        await ws4.close()
    finally:
        await third.stop()


async def test_terminal_clients_keep_using_the_link(server, fac):
    link = server.token(ROOM, "participant", "p1", "Alex")
    cl = SessionClient(server.url, link, name="p1")
    w = await cl.connect()
    assert w.you.id == "p1"
    r = await cl.command(c.AcceptAgreement())
    assert type(r).__name__ in ("Ack", "Error")
    await cl.sync()
    await cl.close()
    # and a hello that does not ask gets no device frame
    ws, first = await hello(server, link, device=False)
    assert first["t"] == "welcome"
    await ws.send(json.dumps({"t": "ping", "id": 5}))
    f = json.loads(await ws.recv())
    while f["t"] != "pong":
        assert f["t"] != "device"
        f = json.loads(await ws.recv())
    await ws.close()


def test_a_device_credential_never_outlives_its_link_and_a_link_token_is_unchanged():
    secret = b"k" * 32
    link = tokens.Claims(room="r", role="participant", id="p", name="A", exp=1000.0)
    assert b"dev" not in tokens._unb64(tokens.sign(secret, link).split(".")[0])
    cred, exp = tokens.device_credential(secret, link, "d1", now=900.0)
    assert exp == 1000.0
    renewed, exp2 = tokens.device_credential(secret, tokens.verify(secret, cred, 950.0), "d1", now=950.0)
    assert exp2 == 1000.0
    cred, exp = tokens.device_credential(secret, link, "d1", now=0.0)
    assert exp == tokens.DEVICE_TTL


async def test_leaving_from_the_waiting_room_holds_after_a_restart_and_a_drop_there_does_not(tmp_path):
    """A leave from the waiting room is in the record too (`waiting_left` with `by_choice`):
    after a restart the old credential opens nothing. A connection lost while waiting is no
    leave: that person's credential still brings them back to the door."""
    import asyncio
    import secrets as _secrets

    from server.app import EmbeddedServer
    from tests.conftest import Group
    db, key = str(tmp_path / "record.db"), _secrets.token_bytes(32)
    first = await EmbeddedServer(db, key).start()
    group = Group(first)
    await group.start(participants=("p1", "p2"))
    creds = {}
    for pid, name in (("p1", "Alex"), ("p2", "Blake")):
        ws, w = await hello(first, first.token(ROOM, "participant", pid, name))
        creds[pid] = (ws, (await recv_type(ws, "device"))["credential"])
        for cid, cmd in (("a1", {"do": "accept_agreement"}), ("a2", {"do": "check_in", "location": "Home"})):
            await ws.send(json.dumps({"t": "cmd", "id": cid, "cmd": cmd}))
            assert (await recv_type(ws, "ack"))["id"] == cid
    members = first.hub.rooms[ROOM].visible.members
    assert members["p1"].status == members["p2"].status == "waiting"
    ws1, old1 = creds["p1"]
    await ws1.send(json.dumps({"t": "cmd", "id": "x1", "cmd": {"do": "leave"}}))     # p1 leaves the door
    assert (await recv_type(ws1, "ack"))["id"] == "x1"
    assert await asyncio.wait_for(closed_reason(ws1), 5) == "left"
    ws2, old2 = creds["p2"]
    ws2.transport.abort()                                                             # p2's network goes
    for _ in range(100):
        if members["p2"].status != "waiting":
            break
        await asyncio.sleep(0.05)
    assert members["p1"].chose_to_leave is not None and members["p2"].chose_to_leave is None
    await group.close()
    await first.stop()

    again = await EmbeddedServer(db, key).start()      # an empty device registry: only the record knows
    try:
        ws, refusal = await hello(again, old1)
        assert refusal["code"] == "unauthorized" and "left the session" in refusal["message"], refusal
        assert await closed_reason(ws) == "unauthorized"
        ws, w = await hello(again, old2)
        assert w["t"] == "welcome" and w["state"]["status"] == "waiting", w
        await ws.close()
        ws, w = await hello(again, again.token(ROOM, "participant", "p1", "Alex"))    # the link still works
        assert w["t"] == "welcome", w
        fresh = (await recv_type(ws, "device"))["credential"]
        await ws.close()
        ws, w = await hello(again, fresh)
        assert w["t"] == "welcome", w
        await ws.close()
    finally:
        await again.stop()


async def test_the_newest_device_is_known_after_a_restart_and_only_staff_hear_of_it(tmp_path):
    """Which device holds the place is in the record (`device_issued`, for staff): after a
    restart, an older device's credential is refused as before the restart, and the newest
    one's opens the place. No participant receives the event."""
    import asyncio
    import secrets as _secrets

    from server.app import EmbeddedServer
    from tests.conftest import Group
    db, key = str(tmp_path / "record.db"), _secrets.token_bytes(32)
    first = await EmbeddedServer(db, key).start()
    group = Group(first)
    f = await group.start(participants=("p1", "p2"))
    link = first.token(ROOM, "participant", "p1", "Alex")
    ws_a, _ = await hello(first, link)
    old = (await recv_type(ws_a, "device"))["credential"]
    await ws_a.close()
    ws_b, _ = await hello(first, link)                 # the link again, on another device
    new = (await recv_type(ws_b, "device"))["credential"]
    other, _ = await hello(first, first.token(ROOM, "participant", "p2", "Blake"))
    await recv_type(other, "device")
    got: list[str] = []

    async def listen(ws):
        try:
            while True:
                got.append(json.loads(await ws.recv()).get("ev", {}).get("type", ""))
        except ConnectionClosed:
            pass
    tasks = [asyncio.create_task(listen(w)) for w in (ws_b, other)]
    await f.sync()
    assert sum(1 for x in f.events if type(x.ev).__name__ == "DeviceIssued" and x.ev.person == "p1") == 2
    assert first.hub.rooms[ROOM].visible.members["p1"].device == tokens.verify(key, new, time.time()).dev
    await ws_b.close()
    await other.close()
    await asyncio.gather(*tasks)
    assert "device_issued" not in got, got
    await group.close()
    await first.stop()

    again = await EmbeddedServer(db, key).start()
    try:
        ws, refusal = await hello(again, old)
        assert refusal["code"] == "forbidden" and "another device" in refusal["message"], refusal
        assert await closed_reason(ws) == "elsewhere"
        ws, w = await hello(again, new)
        assert w["t"] == "welcome", w
        await ws.close()
    finally:
        await again.stop()


async def test_while_the_record_cannot_be_written_no_credential_is_issued_and_the_link_still_works(server, fac):
    """A device id that is not in the record would be refused by the next server: while the
    record is full the page is welcomed and given no credential (it keeps its link), and once
    writing resumes the same link is exchanged as usual."""
    import asyncio

    from tests.test_write_faults import allow_growth, big_command, limit_growth
    await server.hub.flush()
    limit_growth(server)
    assert type(await fac.command(big_command())).__name__ == "Error"     # the record is full now
    link = server.token(ROOM, "participant", "p1", "Alex")
    ws, first = await hello(server, link)
    assert first["t"] == "welcome"
    await ws.send(json.dumps({"t": "ping", "id": 7}))
    seen = []
    while True:
        f = json.loads(await ws.recv())
        seen.append(f["t"])
        if f["t"] == "pong":
            break
    assert "device" not in seen, seen           # the pong comes after where the credential would be
    await ws.close()
    allow_growth(server)
    for _ in range(100):
        if server.hub.health.ok:
            break
        await asyncio.sleep(0.05)
    ws, first = await hello(server, link)
    dev = await recv_type(ws, "device")
    assert tokens.verify(server.secret, dev["credential"], time.time()).dev == \
        server.hub.rooms[ROOM].visible.members["p1"].device
    await ws.close()
