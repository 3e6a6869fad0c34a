"""The websocket edge: authentication, frames, limits, per-connection send queues.

Everything here is I/O; every decision is the hub's (and so the engine's).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import msgspec
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from protocol.frames import (
    PROTOCOL_VERSION, Ack, Ask, Device, Error, Hello, Ping, Pong, decode_client, encode,
)
from server.programs import wire as program_wire
from server import http_edge, pauses, relay, tokens
from server.bucket import TokenBucket
from server.engine import Actor
from server.hub import Hub
from server.record.sqlite import PROGRAM_PREFIX
from server import outbox

log = logging.getLogger("session_server.gateway")

MAX_FRAME = 64 * 1024
SEND_BUFFER = 4 * 1024 * 1024   # bytes unread by a client before it counts as not reading
HELLO_TIMEOUT = 10.0
GARBAGE_LIMIT = 10          # consecutive bad frames before the connection is closed
RATE = 20.0                 # commands per second sustained
BURST = 40.0


@dataclass
class Limits:
    hello_timeout: float = HELLO_TIMEOUT
    send_buffer: int = SEND_BUFFER
    rate: float = RATE
    burst: float = BURST
    garbage: int = GARBAGE_LIMIT
    # keepalive: a peer that answers no ping within ping_interval + ping_timeout is
    # gone (a client that stopped reading stops answering too)
    ping_interval: float = 10.0
    ping_timeout: float = 10.0


class _Connection(ServerConnection):
    """A websocket that notes when its peer was last heard from, for the keepalive."""
    heard = 0.0
    pinged = 0.0

    def connection_made(self, transport) -> None:
        self.heard = time.monotonic()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.heard = time.monotonic()
        super().data_received(data)


class Conn:
    """One client connection as the hub sees it.

    Frames are written into the socket's buffer without waiting (server/outbox.py:
    one write per connection per fan-out), so the hub's fan-out never blocks on a
    slow reader. The buffer itself is the bounded queue: once a client lets
    more than `limit` bytes pile up unread, it is cut loose rather than
    allowed to grow the server's memory or slow anyone else.
    """

    def __init__(self, ws: ServerConnection, person: str, role: str, binary: bool, limit: int):
        self.ws = ws
        self.person = person
        self.role = role
        self.binary = binary
        self.limit = limit
        self.closing: tuple[int, str] | None = None
        self.closer: asyncio.Future | None = None
        self.last_outcome: asyncio.Future | None = None   # the newest command's answer
        # a device connection (the page): its claims and device id, and when to renew
        self.device: tuple[tokens.Claims, str] | None = None
        self.renew_at = 0.0

    def send(self, data) -> None:
        if self.closing is not None:
            return
        t = self.ws.transport
        if t is None or t.is_closing():
            return
        if t.get_write_buffer_size() > self.limit:
            self.closing = (1008, "not reading")
            t.abort()
            return
        outbox.send(self.ws, data)      # one write per connection per fan-out (server/outbox.py)

    def close(self, code: int, reason: str) -> None:
        """Closes after everything already sent (the close frame queues behind it)."""
        if self.closing is None:
            self.closing = (code, reason)
            outbox.flush_one(self.ws)
            self.closer = asyncio.ensure_future(self.ws.close(code, reason))

    async def closed(self, timeout: float = 5.0) -> None:
        if self.closer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.closer), timeout)
            except (TimeoutError, asyncio.TimeoutError, ConnectionClosed):
                pass


class Gateway:
    def __init__(self, hub: Hub, limits: Limits | None = None, allowed_origins: set[str] | None = None,
                 http=None, allowed_hosts: set[str] | None = None):
        self.hub = hub
        self.limits = limits or Limits()
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins} if allowed_origins else None
        # names (besides IP literals and localhost) that a Host header may carry: see server/http_edge.py
        self.allowed_hosts = frozenset(h.lower().rstrip(".") for h in allowed_hosts or ()) | frozenset(
            http_edge.split_host(o.partition("://")[2])[0] for o in self.allowed_origins or ())
        self.http = http            # optional callable(connection, request) for plain HTTP
        self.connections = 0
        self.live: set[_Connection] = set()
        self._keepalive: asyncio.Task | None = None

    def process_request(self, connection, request):
        if request.path == "/health":
            # for a proxy's health checks: 503 once the record has been unwritable for a
            # while (server/health.py, PROXY_GRACE_S); within it, 200 and what is wrong
            health = self.hub.health
            if health.ok:
                return connection.respond(200, "ok\n")
            if health.serving():
                return connection.respond(200, "ok, read-only: the record cannot be written just now\n")
            return connection.respond(503, "the record cannot be written\n")
        headers = request.headers
        twice = http_edge.repeated(headers)
        if twice is not None:
            return self._refuse_http(connection, 400, f"repeated {twice} header")
        host = headers.get("Host")
        if not http_edge.host_ok(host, self.allowed_hosts):
            # DNS rebinding: the name in Host is not one this server serves
            return self._refuse_http(connection, 421, "a Host this server does not serve")
        if headers.get("Upgrade", "").lower() != "websocket":
            if self.http is not None:
                return self.http(connection, request)
            return connection.respond(404, "This is a session server; connect with a websocket.\n")
        origin = headers.get("Origin")
        if origin is not None and not http_edge.origin_ok(origin, host, http_edge.is_tls(connection),
                                                           self.allowed_origins):
            return connection.respond(403, "Origin not allowed\n")
        return None

    async def _refuse_http(self, connection, status: int, why: str):
        """Answers a request malformed for us without a traceback, audited as a refused
        hello (it may have carried one in its headers); websockets awaits this."""
        log.info("refused request: %s", why)
        try:
            await self.hub.refuse_hello(None, None, "invalid", why)
        except Exception as exc:    # noqa: BLE001 - the answer goes out whatever the record's health
            log.warning("could not audit a refused request: %s", type(exc).__name__)
        return connection.respond(status, f"Bad request: {why}\n")

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.live.add(ws)
        try:
            if ws.request is not None and ws.request.path.split("?", 1)[0] == "/media":
                from server.media import relay as media_relay
                await media_relay.serve(ws, self.hub, self)     # the page's voice, relayed to Janus
                return
            await self._serve(ws)
        finally:
            self.connections -= 1
            self.live.discard(ws)
            pauses.connection_closed()

    # --- keepalive --------------------------------------------------------------

    def start_keepalive(self) -> None:
        if self._keepalive is None and self.limits.ping_interval:
            self._keepalive = asyncio.create_task(self._sweep(), name="keepalive")

    async def stop_keepalive(self) -> None:
        task, self._keepalive = self._keepalive, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _sweep(self) -> None:
        """One loop for every connection, instead of a task, a timer and futures
        per connection (which at thousands of people were most of what the
        garbage collector walked, and pinged everyone who joined together at
        the same instant). Any bytes from a peer count as an answer."""
        lim = self.limits
        step = max(0.05, min(lim.ping_interval, lim.ping_timeout) / 4)
        while True:
            await asyncio.sleep(step)
            self.keep_alive(time.monotonic())

    def keep_alive(self, now: float) -> None:
        """Pings the quiet, cuts the silent: a peer heard from neither within
        ping_interval + ping_timeout is gone (or has stopped reading)."""
        lim = self.limits
        for ws in tuple(self.live):
            quiet = now - ws.heard
            if quiet < lim.ping_interval:
                continue
            t = ws.transport
            if t is None or t.is_closing():
                continue
            if quiet >= lim.ping_interval + lim.ping_timeout:
                log.info("closed a connection that answered no ping")
                t.abort()
            elif ws.pinged < ws.heard or now - ws.pinged >= lim.ping_interval:
                ws.pinged = now
                try:
                    ws.protocol.send_ping(b"")
                    ws.send_data()
                except Exception:   # noqa: BLE001 - a closing socket; the next sweep sees it gone
                    pass

    async def _error(self, ws, binary: bool, code: str, message: str, cid=None) -> None:
        try:
            await ws.send(encode(Error(id=cid, code=code, message=message), binary))
        except ConnectionClosed:
            pass

    async def _refuse(self, ws, binary: bool, code: str, message: str, close_reason: str,
                      room: str | None = None, actor: Actor | None = None) -> None:
        """Answers, audits and closes a connection that may not come in."""
        log.info("refused hello: %s", close_reason)
        await self.hub.refuse_hello(room, actor, code, message)
        await self._error(ws, binary, code, message)
        await ws.close(1008, close_reason)

    async def _serve(self, ws: ServerConnection) -> None:
        lim = self.limits
        try:
            first = await asyncio.wait_for(ws.recv(), lim.hello_timeout)
        except (TimeoutError, asyncio.TimeoutError):
            log.info("closed a connection that sent no hello")
            await ws.close(1008, "no hello")
            return
        except ConnectionClosed:
            return
        binary = isinstance(first, bytes)
        try:
            hello = decode_client(first)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            await self._refuse(ws, binary, "invalid", f"bad hello: {exc}", "bad hello")
            return
        if not isinstance(hello, Hello):
            await self._refuse(ws, binary, "invalid", "the first frame must be a hello", "no hello")
            return
        if hello.protocol != PROTOCOL_VERSION:
            await self._refuse(ws, binary, "version",
                               f"this server speaks protocol {PROTOCOL_VERSION}, not {hello.protocol}",
                               "protocol version")
            return
        token = hello.token
        auth = ws.request.headers.get("Authorization") if ws.request else None
        if token is None and auth and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if not token:
            await self._refuse(ws, binary, "unauthorized", "a token is required", "unauthorized")
            return
        try:
            # expiry is judged by the server's own clock, which a step of the system clock
            # does not move (server/clock.py); a replay's virtual time is no judge of real tokens
            clock = self.hub.clock
            claims = tokens.verify(self.hub.secret, token, time.time() if clock.virtual else clock.now())
        except tokens.TokenError as exc:
            who = exc.claims
            await self._refuse(ws, binary, "unauthorized", str(exc), "unauthorized",
                               who.room if who else None, Actor(who.id, who.role, "") if who else None)
            return
        if claims.room.startswith(PROGRAM_PREFIX):
            # a program's own log shares the record but is no room: a session there would fork its seqs
            await self._refuse(ws, binary, "unauthorized", "that id names a program, not a room", "unauthorized")
            return
        actor = Actor(claims.id, claims.role, claims.name)
        host = await self.hub.take(claims.room)
        if isinstance(host, str):
            # another server holds the room: relay to it, or, if it is gone, wait
            # for its lease to lapse and serve the room here
            if host and await relay.relay(ws, first, host, claims.room):
                return
            host = await self.hub.take(claims.room, wait=True)
            if isinstance(host, str):
                await self._error(ws, binary, "unavailable", "the room's server cannot be reached; try again")
                await ws.close(1013, "try again later")
                return
        gate = self._device_gate(hello, claims, host)
        if gate is not None:
            code, message, reason = gate
            await self._refuse(ws, binary, code, message, reason, claims.room, actor)
            return
        conn = Conn(ws, actor.id, actor.role, binary, lim.send_buffer)
        refused = await self.hub.join(host, actor, conn, hello.resume)
        if refused is not None:
            conn.send(encode(refused, binary))
            conn.close(1008, refused.code)
            await conn.closed()
            return
        if claims.dev is not None:
            conn.device = (claims, claims.dev)
        elif hello.device and claims.role == "participant":
            device = await self.hub.issue_device(host, actor)
            if device is not None:
                conn.device = (claims, device)
                self._send_device(conn, host)
        log.info("joined room=%s role=%s", _short(host.id), actor.role)
        try:
            await self._frames(ws, conn, host, actor, binary)
        finally:
            await self.hub.leave(host, actor, conn)
            await conn.closed()

    # --- device credentials (the hello path; the rule is tokens.device_refusal) ----

    def _device_gate(self, hello: Hello, claims: tokens.Claims, host) -> tuple[str, str, str] | None:
        """A refusal (code, message, close reason) for a hello that may not take the place it asks for."""
        if claims.dev is not None:
            return tokens.device_refusal(claims, host.visible.members.get(claims.id))     # the record's word
        if hello.device and claims.role == "participant" and claims.id in host.conns:
            # the link opened a second time while the first is connected: the second
            # must not take the place over (nor retire the first one's credential)
            return ("conflict", "this link is already open in another tab or on another device", "in use")
        return None

    def _send_device(self, conn: Conn, host) -> None:
        claims, dev = conn.device
        now = time.time()
        issued = tokens.issue_time(self.hub.clock.now(), host.visible.members.get(claims.id))
        credential, exp = tokens.device_credential(self.hub.secret, claims, dev, now, tokens.DEVICE_TTL,
                                                   issued=issued)
        # renewed at a third of its life, so a few missed pongs never let it lapse
        conn.renew_at = now + (exp - now) / 3
        conn.send(encode(Device(credential=credential, expires=exp), conn.binary))

    async def _frames(self, ws, conn: Conn, host, actor: Actor, binary: bool) -> None:
        lim = self.limits
        state = {"bucket": TokenBucket(lim.rate, lim.burst), "garbage": 0}
        try:
            async for data in ws:
                if not await self._frame(data, conn, host, actor, binary, state):
                    return
        except ConnectionClosed:
            return

    async def _frame(self, data, conn: Conn, host, actor: Actor, binary: bool, st: dict) -> bool:
        """Handles one frame; False once the connection should end."""
        lim = self.limits
        try:
            frame = decode_client(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            st["garbage"] += 1
            conn.send(encode(Error(id=_frame_id(data), code="invalid", message=str(exc)), binary))
            if st["garbage"] >= lim.garbage:
                conn.close(1008, "too many malformed frames")
                return False
            return True
        st["garbage"] = 0
        if isinstance(frame, Ping):
            if conn.device is not None and time.time() >= conn.renew_at:
                self._send_device(conn, host)

            def pong(_=None):
                conn.send(encode(Pong(id=frame.id, seq=host.visible.seq,
                                      server_time=self.hub.clock.now()), binary))
            # a pong is a barrier: it follows the answers to this connection's own
            # commands still being recorded, not just the events already sent
            last = conn.last_outcome
            if last is not None and not last.done():
                last.add_done_callback(pong)
            else:
                pong()
            return True
        if isinstance(frame, Hello):
            conn.send(encode(Error(code="invalid", message="already said hello"), binary))
            return True
        if not st["bucket"].take():
            conn.send(encode(Error(id=frame.id, code="rate_limited",
                                   message="too many commands; slow down"), binary))
            return True
        # Decided now, answered once recorded: the next frame is read meanwhile, so
        # one connection's commands share a group commit instead of queueing for one
        # each. Commits complete in order, so the acks do too.
        if isinstance(frame, Ask):      # programs: staff questions, answered at once, beside the room
            conn.send(encode(await program_wire.answer(self.hub, actor, host, frame), binary))
            return True
        if type(frame.cmd).__struct_config__.tag == "leave":
            result = await self.hub.start_command(host, actor, frame.id, frame.cmd)
            conn.send(encode(result, binary))
            if isinstance(result, Ack):
                conn.close(1000, "left")      # the leave is recorded: the device's credential is done
                return False
            return True
        # answered in the same write as the events it follows (hub.start_command)
        conn.last_outcome = self.hub.start_command(host, actor, frame.id, frame.cmd,
                                                   answer=lambda result: conn.send(encode(result, binary)))
        return conn.closing is None


def _frame_id(data) -> str | None:
    """The command id of a frame that failed validation, so the error can answer it."""
    try:
        raw = msgspec.json.decode(data) if isinstance(data, str) else msgspec.msgpack.decode(data)
    except (msgspec.DecodeError, ValueError, TypeError, RecursionError):
        return None
    cid = raw.get("id") if isinstance(raw, dict) else None
    return cid if isinstance(cid, str) and len(cid) <= 128 else None


def _short(room: str) -> str:
    """Room ids may be descriptive; logs keep only a stable short digest."""
    import hashlib
    return hashlib.sha256(room.encode()).hexdigest()[:8]


async def start_server(gateway: Gateway, host: str, port: int, ssl=None):
    # No per-message compression: frames are small, and deflate would run once per
    # connection for the same bytes (and hold a compressor's memory for each).
    loop = asyncio.get_running_loop()
    if not isinstance(loop.get_exception_handler(), http_edge.AcceptLog):
        http_edge.AcceptLog(loop).install()     # out of descriptors: one line a second, not a flood
    server = await serve(gateway.handler, host, port, max_size=MAX_FRAME, ssl=ssl,
                         process_request=gateway.process_request, create_connection=_Connection,
                         ping_interval=None, server_header=None, compression=None)
    gateway.start_keepalive()
    return server
