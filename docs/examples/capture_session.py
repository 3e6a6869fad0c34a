"""Captures a short live session, frame by frame, for docs/protocol.md.

Run from the repository root:

    python docs/examples/capture_session.py            # snapshots trimmed for the docs
    python docs/examples/capture_session.py --full     # every frame exactly as sent

It starts a real `EmbeddedServer` (SQLite record in a temporary directory) on a
virtual clock, so that times and tokens come out the same on every run. The
clients use nothing of the project: plain `websockets`, JSON text frames, and
tokens minted here with the standard library (HMAC-SHA256), the way a client
or an invitation service in another language would.

After every step the script sends a hidden ping to each open connection and
waits for its pong, so every frame a step caused has arrived; those barrier
pings are left out of the transcript (one ping is shown on purpose).
Frames are listed per step, the actor's connection first.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from websockets.asyncio.client import connect  # noqa: E402

from server.app import EmbeddedServer  # noqa: E402
from server.clock import VirtualClock  # noqa: E402

SECRET = b"docs-example-secret-do-not-use-in-service-0123456789"
START = 1767654000.0           # Monday 5 January 2026, 18:00 New York (the runner's epoch)
ROOM = "tue-evening"
FULL = "--full" in sys.argv
BARRIER = 9000                 # ids of the hidden barrier pings


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(role: str, pid: str, name: str) -> str:
    """base64url(JSON claims) "." base64url(HMAC-SHA256(secret, JSON claims))."""
    payload = json.dumps({"room": ROOM, "role": role, "id": pid, "name": name, "exp": 4102444800},
                         separators=(",", ":")).encode()
    return b64url(payload) + "." + b64url(hmac.new(SECRET, payload, hashlib.sha256).digest())


def trim(frame: dict) -> dict:
    """Keeps snapshots readable: drops fields that still hold their defaults."""
    if FULL or frame.get("t") != "welcome" or not frame.get("state"):
        return frame
    st = dict(frame["state"])
    empty = (None, [], {}, "", 0, 0.0, False)
    keep = {"kind", "room", "phase", "seq", "me", "status"}
    short = {k: v for k, v in st.items() if k in keep or v not in empty}
    if "members" in short:
        short["members"] = {
            pid: {k: v for k, v in m.items()
                  if k in ("id", "name", "role", "status", "expected", "admitted", "agreed")
                  and v not in (None, [], "")}
            for pid, m in short["members"].items()}
    short["…"] = "fields at their defaults left out"
    return dict(frame, state=short)


class Conn:
    def __init__(self, label: str, token: str):
        self.label, self.token = label, token
        self.ws = None
        self.inbox: list[dict] = []
        self.reader = None
        self.pongs: dict[int, asyncio.Future] = {}
        self.closed: str | None = None
        self.position = 0          # the highest seq seen: events, welcomes, pongs

    async def open(self, url: str) -> None:
        self.ws = await connect(url, ping_interval=None)
        self.closed = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for text in ws:
                f = json.loads(text)
                if f.get("t") in ("event", "welcome", "pong"):
                    self.position = max(self.position, f.get("seq", 0))
                if f.get("t") == "pong" and f.get("id", 0) >= BARRIER:
                    fut = self.pongs.pop(f["id"], None)
                    if fut and not fut.done():
                        fut.set_result(f)
                    continue
                self.inbox.append(f)
        except Exception:
            pass
        finally:
            rcvd = ws.protocol.close_rcvd
            self.closed = (f"close frame {rcvd.code} {rcvd.reason!r}" if rcvd
                           else "connection lost, no close frame")
            for fut in self.pongs.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("closed"))

    async def send(self, frame: dict) -> None:
        print(f"{self.label} → {json.dumps(frame, ensure_ascii=False)}")
        await self.ws.send(json.dumps(frame))

    async def barrier(self, n: int) -> None:
        if self.ws is None or self.closed is not None:
            return
        fut = asyncio.get_running_loop().create_future()
        self.pongs[BARRIER + n] = fut
        await self.ws.send(json.dumps({"t": "ping", "id": BARRIER + n}))
        try:
            await asyncio.wait_for(fut, 5)
        except (ConnectionError, asyncio.TimeoutError):
            pass

    def flush(self) -> None:
        for f in self.inbox:
            f = trim(f)
            text = json.dumps(f, ensure_ascii=False)
            if f.get("t") == "welcome" and f.get("state"):
                # one line per snapshot field, so a long snapshot stays readable
                head = json.dumps({k: v for k, v in f.items() if k != "state"}, ensure_ascii=False)
                body = ",\n".join(f"      {json.dumps(k, ensure_ascii=False)}: "
                                  f"{json.dumps(v, ensure_ascii=False)}" for k, v in f["state"].items())
                text = head[:-1] + ', "state": {\n' + body + "\n   }}"
            print(f"{self.label} ← {text}")
        self.inbox.clear()


async def main() -> None:
    tmp = tempfile.mkdtemp(prefix="capture-")
    clock = VirtualClock(START)
    server = EmbeddedServer(os.path.join(tmp, "record.db"), SECRET, clock=clock)
    await server.start()
    try:
        await play(server, clock)
    finally:
        await server.stop()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


async def play(server: EmbeddedServer, clock: VirtualClock) -> None:
    hub = server.hub
    F = Conn("F ", mint("facilitator", "f1", "Dana"))
    P = Conn("P1", mint("participant", "p1", "Alex"))
    conns = [F, P]
    n = 0

    async def step(title: str, at: float, actor: Conn | None, frames: list[dict]):
        nonlocal n
        await hub.advance_to(START + at)
        print(f"\n## {title}  (t = {int(at) // 60}:{int(at) % 60:02d})")
        for fr in frames:
            await actor.send(fr)
        if frames and frames[0].get("t") in ("hello", "cmd"):
            # wait for the answer (welcome, ack or error) before the barrier
            for _ in range(500):
                if any(f.get("t") in ("welcome", "ack", "error") for f in actor.inbox):
                    break
                await asyncio.sleep(0.005)
        await hub.flush()
        for c in conns:
            n += 1
            await c.barrier(n)
        for c in [actor] + [c for c in conns if c is not actor]:
            c.flush()

    print("# Worked example: captured by docs/examples/capture_session.py")
    print(f"# F = facilitator f1 (Dana), P1 = participant p1 (Alex); room {ROOM!r}")
    print(f"# → client to server, ← server to client; virtual clock starting at {START}")

    await F.open(server.url)
    await step("the facilitator connects", 0, F,
               [{"t": "hello", "token": F.token, "protocol": 1, "resume": None}])
    await step("the facilitator sets the room up", 0, F, [{"t": "cmd", "id": "f1-1", "cmd": {
        "do": "configure", "title": "IOP Tuesday evening", "capacity": 10,
        "agreement": "What is shared here stays here.",
        "agenda": [{"title": "Check-in", "minutes": 15}, {"title": "Topic", "minutes": 30}],
        "roster": [{"id": "f1", "name": "Dana", "role": "facilitator"},
                   {"id": "p1", "name": "Alex"}, {"id": "p2", "name": "Sam"}]}}])
    await step("the facilitator opens the session", 0, F,
               [{"t": "cmd", "id": "f1-2", "cmd": {"do": "open"}}])

    await P.open(server.url)
    await step("a participant connects and waits", 60, P,
               [{"t": "hello", "token": P.token, "protocol": 1}])
    await step("the participant accepts the group agreement", 75, P,
               [{"t": "cmd", "id": "p1-1", "cmd": {"do": "accept_agreement"}}])
    await step("the facilitator admits the participant", 90, F,
               [{"t": "cmd", "id": "f1-3", "cmd": {"do": "admit", "target": "p1"}}])
    await step("the participant raises a hand", 120, P,
               [{"t": "cmd", "id": "p1-2", "cmd": {"do": "raise_hand"}}])
    await step("the facilitator calls the next speaker", 150, F,
               [{"t": "cmd", "id": "f1-4", "cmd": {"do": "next_speaker"}}])
    await step("a refusal: the speaker raises a hand again (conflict)", 160, P,
               [{"t": "cmd", "id": "p1-3", "cmd": {"do": "raise_hand"}}])
    await step("a refusal: a participant may not call speakers (forbidden)", 170, P,
               [{"t": "cmd", "id": "p1-4", "cmd": {"do": "next_speaker"}}])
    await step("a malformed command: wrong type (invalid, the connection stays)", 180, F,
               [{"t": "cmd", "id": "f1-5", "cmd": {"do": "go_around", "seconds": "ninety"}}])
    await step("a private note: staff only, the participant receives nothing", 190, F,
               [{"t": "cmd", "id": "f1-6", "cmd": {"do": "note", "target": "p1",
                                                   "text": "Quiet tonight; check in after group."}}])
    await step("ping and pong: a barrier and the room's position", 200, P,
               [{"t": "ping", "id": 7}])

    print("\n## the participant's network drops (no close frame)  (t = 4:00)")
    await hub.advance_to(START + 240)
    P.ws.transport.abort()
    await P.reader
    host = hub.room(ROOM)
    for _ in range(1000):
        if "p1" not in host.conns:
            break
        await asyncio.sleep(0.005)
    await hub.flush()
    n += 1
    await F.barrier(n)
    print(f"P1 ✕ {P.closed}")
    F.flush()
    await step("while P1 is away, the facilitator writes to everyone", 250, F,
               [{"t": "cmd", "id": "f1-7", "cmd": {"do": "chat", "text": "Alex's connection dropped; "
                                                    "we will wait a moment."}}])

    last = P.position          # the resume point: the highest seq P1 saw before the cut
    await P.open(server.url)
    await step(f"P1 reconnects and resumes from seq {last}", 270, P,
               [{"t": "hello", "token": P.token, "protocol": 1, "resume": last}])
    await step("P1 retries a command whose answer it never saw: applied once", 275, P,
               [{"t": "cmd", "id": "p1-2", "cmd": {"do": "raise_hand"}}])
    await step("the facilitator closes the session", 300, F,
               [{"t": "cmd", "id": "f1-8", "cmd": {"do": "close"}}])
    await asyncio.wait_for(P.reader, 5)
    print(f"P1 ✕ {P.closed}")

    await F.ws.close()

if __name__ == "__main__":
    asyncio.run(main())
