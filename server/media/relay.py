"""The page's way to Janus: a websocket on the session server's own origin (`/media`).

Janus's API never faces the network. A page opens `/media?room=R`, proves who
it is with the same credential as its session (`{"janus": "auth", ...}`), and
then speaks Janus's JSON API through us. For each message we:
- let through only what a participant may ask: a session, the VideoRoom plugin,
  joining, publishing and configuring their own streams, subscribing, trickle,
  keepalive, leaving; never creating, editing, kicking, moderating, listing,
  forwarding or recording;
- name the room ourselves (the one the person is in now, or for staff the
  breakout room they listen to) and add its pin, their id and display name,
  and a Janus token minted for this connection only;
- refuse sessions and handles this connection did not create.
What comes back passes unchanged, and we watch it: a successful join is
recorded (`voice_join`), the page's own "talking" events become measured talk
time, and its audio stream's mid lets a held mute be applied server-side.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from protocol import commands as c
from server import relay as room_relay, tokens
from server.engine import SYSTEM, Actor
from server.engine.base import STAFF_ROLES
from server.engine.voice import mic_open, voice_room

log = logging.getLogger("session_server.media")

NO_VOICE = "voice is not available on this server"   # the page's voice.js stops retrying on it

VERBS = {"create", "attach", "message", "trickle", "keepalive", "detach", "hangup", "destroy"}
REQUESTS = {"join", "publish", "configure", "unpublish", "leave", "start", "pause", "subscribe", "unsubscribe",
            "update"}
# what a page may set when it publishes or configures its own streams (no record, no filename)
PUBLISH_KEYS = {"audio", "video", "data", "bitrate", "keyframe", "audiocodec", "videocodec", "descriptions",
                "streams"}
MAX_MESSAGE = 64 * 1024


class Refused(Exception):
    pass


class MediaSession:
    def __init__(self, ws, hub, media, host, actor: Actor):
        self.ws, self.hub, self.media, self.host, self.actor = ws, hub, media, host, actor
        self.person = actor.id
        self.staff = actor.role in STAFF_ROLES
        self.token = secrets.token_hex(16)
        self.up = None
        self.sessions: set[int] = set()
        self.handles: set[int] = set()
        self.pub_handle: int | None = None
        self.joined: str | None = None      # the Janus room this page publishes in (or listens to)
        self.listen: int | None = None      # staff: the breakout room listened to
        self.audio_mid: str | None = None
        self.mic_applied: bool | None = None
        self.joins: dict[str, tuple[str, int | None]] = {}   # transaction -> (janus room, listen)
        self.publishes: set[str] = set()
        self.ended = False

    # --- the two directions ------------------------------------------------------

    async def run(self) -> None:
        await self.media.add_token(self.token)
        self.up = await connect(self.media.cfg.url, subprotocols=["janus-protocol"], max_size=None,
                                ping_interval=None, compression=None)
        self.media.sessions.setdefault(self.host.id, set()).add(self)
        if self.hub.shared and self.hub.rooms.get(self.host.id) is not self.host:
            # the room moved to another server while this started (MediaRooms.let_go)
            await self.end("the room moved to another server")
            return
        down = asyncio.create_task(self._down())
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes) or len(raw) > MAX_MESSAGE:
                    await self._refuse(None, "voice messages are JSON text of at most 64 KiB")
                    continue
                try:
                    msg = json.loads(raw)
                    if not isinstance(msg, dict):
                        raise Refused("a voice message is a JSON object")
                    out = await self._up(msg)
                except Refused as exc:
                    await self._refuse(msg.get("transaction") if isinstance(msg, dict) else None, str(exc))
                    continue
                except ValueError:
                    await self._refuse(None, "not JSON")
                    continue
                await self.up.send(json.dumps(out))
        except ConnectionClosed:
            pass
        finally:
            down.cancel()
            await self._cleanup()

    async def _up(self, msg: dict) -> dict:
        verb = msg.get("janus")
        if verb not in VERBS:
            raise Refused(f"{verb!r} is not something a page may ask")
        out = {"janus": verb, "transaction": str(msg.get("transaction", ""))[:64], "token": self.token}
        if verb != "create":
            sid = msg.get("session_id")
            if sid not in self.sessions:
                raise Refused("not a voice session of this page")
            out["session_id"] = sid
        if verb in ("message", "trickle", "detach", "hangup"):
            hid = msg.get("handle_id")
            if hid not in self.handles:
                raise Refused("not a voice handle of this page")
            out["handle_id"] = hid
        if verb == "attach":
            if msg.get("plugin") != "janus.plugin.videoroom":
                raise Refused("only the video room")
            out["plugin"] = "janus.plugin.videoroom"
        elif verb == "trickle":
            for k in ("candidate", "candidates"):
                if k in msg:
                    out[k] = msg[k]
        elif verb == "message":
            out["body"] = await self._body(msg.get("body"), out["transaction"], out["handle_id"])
            jsep = msg.get("jsep")
            if isinstance(jsep, dict):
                out["jsep"] = {k: jsep[k] for k in ("type", "sdp", "trickle") if k in jsep}
        return out

    async def _body(self, body, txn: str, handle: int) -> dict:
        if not isinstance(body, dict) or body.get("request") not in REQUESTS:
            raise Refused(f"the request {body.get('request') if isinstance(body, dict) else body!r} is not allowed")
        req = body["request"]
        state = self.host.visible
        if req == "join":
            listen = body.get("listen")
            if body.get("ptype") == "subscriber":
                if self.joined is None:
                    raise Refused("join the room before listening to it")
                streams = [{"feed": str(s["feed"]), **({"mid": str(s["mid"])} if "mid" in s else {})}
                           for s in body.get("streams", []) if isinstance(s, dict) and "feed" in s]
                return {"request": "join", "ptype": "subscriber", "room": self.joined,
                        "pin": self.media.rooms.get(self.joined, ""), "streams": streams}
            if listen is not None:
                if not self.staff or not isinstance(listen, int):
                    raise Refused("only staff listen in to a breakout room")
                if state.breakouts != "open" or not 1 <= listen <= len(state.rooms):
                    raise Refused(f"there is no open breakout room {listen}")
                n = listen
            else:
                n = voice_room(state, self.person)
                if n is None:
                    raise Refused("you are not in the room")
            jroom = self.media.janus_room(self.host.id, n, state.round)
            pin = await self.media.ensure(jroom)
            # a second page of the same person takes the place of the first
            await self.media.kick(jroom, self._pid(listen))
            self.joins[txn] = (jroom, listen)
            self.pub_handle = handle
            m = state.members.get(self.person)
            return {"request": "join", "ptype": "publisher", "room": jroom, "pin": pin, "id": self._pid(listen),
                    "display": m.name if m else self.actor.name}
        if req in ("publish", "configure"):
            if self.listen is not None:
                raise Refused("listening in: you are not heard in this room")
            self.publishes.add(txn)
            return {"request": req, **{k: body[k] for k in PUBLISH_KEYS if k in body}}
        if req in ("subscribe", "unsubscribe", "update"):
            keep = {k: body[k] for k in ("streams", "subscribe", "unsubscribe") if k in body}
            return {"request": req, **keep}
        return {"request": req}

    def _pid(self, listen) -> str:
        return self.person if listen is None else f"{self.person}~listening"

    async def _down(self) -> None:
        try:
            async for raw in self.up:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                self._watch(msg)
                try:
                    await self.ws.send(raw)
                except ConnectionClosed:
                    return
        except ConnectionClosed:
            pass
        if not self.ended:
            await self.end("the voice server went away")

    def _watch(self, msg: dict) -> None:
        kind = msg.get("janus")
        data = (msg.get("data") or {})
        if kind == "success" and isinstance(data.get("id"), int):
            if "session_id" in msg:
                self.handles.add(data["id"])       # attach answered
            else:
                self.sessions.add(data["id"])      # create answered
            return
        if kind != "event":
            return
        pdata = (msg.get("plugindata") or {}).get("data") or {}
        txn = msg.get("transaction")
        if txn in self.joins and pdata.get("videoroom") == "joined":
            self.joined, self.listen = self.joins.pop(txn)
            self.mic_applied = None
            self.hub.spawn(self.hub.command(self.host, self.actor, f"voice-{secrets.token_hex(6)}",
                                            c.VoiceJoin(listen=self.listen)))
        elif txn in self.publishes:
            self.publishes.discard(txn)
            for s in pdata.get("streams", []) or []:
                if s.get("type") == "audio" and s.get("mid") is not None:
                    self.audio_mid = str(s["mid"])
            self.hub.spawn(self.apply_mic(mic_open(self.host.visible, self.person)))
        if pdata.get("videoroom") in ("talking", "stopped-talking") and pdata.get("id") == self.person:
            talking = pdata["videoroom"] == "talking"
            m = self.host.visible.members.get(self.person)
            if m is not None and (m.talking_since is not None) != talking and self.person in self.host.visible.in_voice:
                self.hub.spawn(self.hub.command(self.host, SYSTEM, f"talk-{secrets.token_hex(6)}",
                                                c.VoiceActivity(person=self.person, talking=talking)))

    async def _refuse(self, txn, reason: str) -> None:
        log.info("voice request refused: %s", reason)     # the reason names no one
        try:
            await self.ws.send(json.dumps({"janus": "error", "transaction": txn,
                                           "error": {"code": 403, "reason": reason}}))
        except ConnectionClosed:
            pass

    # --- what the server does to this page ----------------------------------------

    async def apply_mic(self, open_: bool) -> None:
        """A held mute, or the held floor, applied by Janus (the page cannot undo it)."""
        if self.joined is None or self.audio_mid is None or self.listen is not None or self.staff:
            return
        if self.mic_applied == open_:
            return
        self.mic_applied = open_
        try:
            await self.media.moderate(self.joined, self.person, self.audio_mid, mute=not open_)
        except Exception:       # noqa: BLE001 - the page is gone or moved: reconcile will try again
            self.mic_applied = None

    async def moved(self) -> None:
        """The person is now in another room: their Janus sessions end, the page rejoins."""
        await self._drop_janus()
        try:
            await self.ws.send(json.dumps({"janus": "moved"}))
        except ConnectionClosed:
            pass

    async def end(self, reason: str) -> None:
        self.ended = True
        try:
            await self.ws.send(json.dumps({"janus": "closed", "reason": reason}))
            await self.ws.close(1000, reason[:100])
        except ConnectionClosed:
            pass
        await self._cleanup()

    async def _drop_janus(self) -> None:
        was = self.joined
        if was is not None:
            await self.media.kick(was, self._pid(self.listen))
        for sid in list(self.sessions):
            try:
                await self.up.send(json.dumps({"janus": "destroy", "session_id": sid, "token": self.token,
                                               "transaction": f"srv-{secrets.token_hex(4)}"}))
            except ConnectionClosed:
                pass
        self.sessions.clear()
        self.handles.clear()
        self.joined, self.listen, self.audio_mid, self.mic_applied = None, None, None, None
        if was is not None and self.person in self.host.visible.in_voice and self.hub.rooms.get(self.host.id) is self.host:
            # (a room that moved to another server is that server's to record)
            self.hub.spawn(self.hub.command(self.host, SYSTEM, f"voice-{secrets.token_hex(6)}",
                                            c.VoiceLeave(person=self.person)))

    async def _cleanup(self) -> None:
        live = self.media.sessions.get(self.host.id)
        if live is not None and self in live:
            live.discard(self)
            await self._drop_janus()
            await self.media.remove_token(self.token)
            if self.up is not None:
                await self.up.close()


async def serve(ws, hub, gateway=None) -> None:
    """The /media websocket: authenticate with the session's credential, then relay.

    Voice is part of being in the session: the person must be connected to the
    room now (their page or console), and a device credential must be the one
    their place is held by (a superseded or revoked one opens no voice)."""
    media = hub.media
    if media is None and not hub.shared:
        await ws.close(1008, NO_VOICE)
        return
    try:
        raw = await asyncio.wait_for(ws.recv(), 10)
        first = json.loads(raw)
        claims = tokens.verify(hub.secret, str(first.get("credential", "")), hub.clock.now())
    except (ValueError, AttributeError, TypeError, tokens.TokenError, asyncio.TimeoutError, TimeoutError):
        await ws.close(1008, "unauthorized")
        return
    except ConnectionClosed:
        return
    host = hub.rooms.get(claims.room)
    if host is None and hub.shared:
        # Another server holds the room, and the person's session was relayed there
        # (server/relay.py): their voice goes to that server too, whose Janus carries the
        # room. Without this, a room whose hash came back to a restarted server after a
        # failover was told "you are not in the room" by every page's voice.
        owner = await asyncio.to_thread(hub.leases.holder, claims.room) if hub.leases is not None else None
        if owner and await room_relay.relay(ws, raw, owner, claims.room, path="/media"):
            return
    if media is None:
        await ws.close(1008, NO_VOICE)
        return
    actor = Actor(claims.id, claims.role, claims.name)
    if claims.dev is not None and host is not None and tokens.device_refusal(
            claims, host.visible.members.get(claims.id)) is not None:
        await ws.close(1008, "unauthorized")
        return
    if host is None or actor.id not in host.conns or (
            actor.role not in STAFF_ROLES and voice_room(host.visible, actor.id) is None):
        await ws.send(json.dumps({"janus": "closed", "reason": "you are not in the room"}))
        await ws.close(1008, "not in the room")
        return
    await ws.send(json.dumps({"janus": "success", "transaction": first.get("transaction")}))
    log.info("voice relay opened role=%s", actor.role)
    await MediaSession(ws, hub, media, host, actor).run()
