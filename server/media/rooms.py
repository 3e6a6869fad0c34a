"""The group's media rooms in Janus, following the group.

A main room per session, and a room per breakout room per round, created on
first use and destroyed when the session closes or the round ends. Each Janus
room has a secret (to kick and moderate) and a pin (to join) that only the
server knows; pages join through the relay (server/media/relay.py), which adds
the pin of the one room the person is in now.

After every delivered event the hub calls `after_event`; the media layer then
brings Janus in line with the engine's `voice_room` and `mic_open`: whoever is
now in another room is taken out of the old one (and rejoins the new one),
and a held mute or the held floor is applied with VideoRoom's `moderate`,
which a participant cannot undo.
"""
from __future__ import annotations

import asyncio
import logging
import secrets

from protocol import events as ev_mod
from server.engine.voice import mic_open, voice_room
from server.media.janus import JanusApi, JanusConfig, JanusError

log = logging.getLogger("session_server.media")

KEEPALIVE_S = 25.0

# the events after which who is heard where may have changed (engine.voice's rules read
# presence, breakout rooms, mutes, the floor and the speaker)
MOVES = (ev_mod.Admitted, ev_mod.Returned, ev_mod.Dropped, ev_mod.Left, ev_mod.Removed, ev_mod.Denied,
         ev_mod.BreakoutsOpened, ev_mod.BreakoutsClosed, ev_mod.BreakoutMoved, ev_mod.MicMuted,
         ev_mod.MicUnmuted, ev_mod.FloorHeld, ev_mod.TurnStarted, ev_mod.TurnEnded, ev_mod.SessionClosed,
         ev_mod.VoiceJoined)


class MediaRooms:
    def __init__(self, cfg: JanusConfig, talk_level: int = 55, talk_packets: int = 25):
        self.cfg = cfg
        self.talk_level, self.talk_packets = talk_level, talk_packets
        self.api: JanusApi | None = None
        self.admin: JanusApi | None = None
        self.session = None
        self.handle = None
        self.token = secrets.token_hex(16)
        self.rooms: dict[str, str] = {}          # janus room id -> pin
        self.secret: dict[str, str] = {}         # janus room id -> secret
        self.sessions: dict[str, set] = {}       # group room -> live relay sessions
        self._lock = asyncio.Lock()
        self._running: set[str] = set()          # rooms being reconciled now
        self._again: set[str] = set()            # ... and asked for again meanwhile
        self._ended: dict[str, set[int]] = {}    # breakout rounds ended, their rooms to destroy
        self._closed: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._keepalive: asyncio.Task | None = None

    async def start(self) -> "MediaRooms":
        self.admin = await JanusApi.connect(self.cfg.admin_url, admin=True)
        await self.add_token(self.token)
        self.api = await JanusApi.connect(self.cfg.url)
        s = await self.api.request({"janus": "create", "token": self.token})
        self.session = s["data"]["id"]
        h = await self.api.request({"janus": "attach", "session_id": self.session,
                                    "plugin": "janus.plugin.videoroom", "token": self.token})
        self.handle = h["data"]["id"]
        self._keepalive = asyncio.create_task(self._keep())
        return self

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            try:
                await self.api.request({"janus": "keepalive", "session_id": self.session, "token": self.token})
            except Exception:      # noqa: BLE001 - janus went away: the relay reports it to pages
                log.warning("media server keepalive failed")

    async def stop(self) -> None:
        if self._keepalive:
            self._keepalive.cancel()
        for t in list(self._tasks):
            t.cancel()
        for api in (self.api, self.admin):
            if api is not None:
                try:
                    await api.close()
                except Exception:     # noqa: BLE001 - stopping anyway
                    pass

    # --- tokens (core token_auth, through the admin API) --------------------------

    async def add_token(self, token: str) -> None:
        await self.admin.request({"janus": "add_token", "token": token, "plugins": ["janus.plugin.videoroom"],
                                  "admin_secret": self.cfg.admin_secret})

    async def remove_token(self, token: str) -> None:
        try:
            await self.admin.request({"janus": "remove_token", "token": token, "admin_secret": self.cfg.admin_secret})
        except (JanusError, Exception):     # noqa: BLE001 - already gone
            pass

    # --- rooms ------------------------------------------------------------------

    def janus_room(self, room: str, n: int, round_: int) -> str:
        """The Janus room of a group room's main room (n = 0), or of breakout room n of a round:
        rooms of each round are their own, as what is said in them belongs to that round."""
        return f"{room}~main" if n == 0 else f"{room}~r{round_}~b{n}"

    async def _plugin(self, body: dict) -> dict:
        r = await self.api.request({"janus": "message", "session_id": self.session, "handle_id": self.handle,
                                    "token": self.token, "body": body})
        data = r.get("plugindata", {}).get("data", {})
        if data.get("error_code"):
            raise JanusError(data["error_code"], data.get("error", ""))
        return data

    async def ensure(self, jroom: str) -> str:
        """Creates the Janus room if it does not exist yet; returns its pin."""
        async with self._lock:
            pin = self.rooms.get(jroom)
            if pin is not None:
                return pin
            pin, secret = secrets.token_hex(12), secrets.token_hex(12)
            await self._plugin({"request": "create", "room": jroom, "admin_key": self.cfg.room_key,
                                "secret": secret, "pin": pin, "is_private": True, "publishers": 16,
                                "audiocodec": "opus", "videocodec": "vp8", "bitrate": 256000,
                                "audiolevel_event": True, "audio_active_packets": self.talk_packets,
                                "audio_level_average": self.talk_level,
                                "notify_joining": True, "record": False, "permanent": False})
            self.rooms[jroom], self.secret[jroom] = pin, secret
            log.info("media room created")
            return pin

    async def destroy(self, jroom: str) -> None:
        async with self._lock:
            secret = self.secret.pop(jroom, None)
            self.rooms.pop(jroom, None)
        if secret is not None:
            try:
                await self._plugin({"request": "destroy", "room": jroom, "secret": secret, "permanent": False})
            except JanusError:
                pass

    async def kick(self, jroom: str, pid: str) -> None:
        secret = self.secret.get(jroom)
        if secret is None:
            return
        try:
            await self._plugin({"request": "kick", "room": jroom, "secret": secret, "id": pid})
        except JanusError:
            pass            # not (or no longer) in that room

    async def moderate(self, jroom: str, pid: str, mid: str, mute: bool) -> None:
        secret = self.secret.get(jroom)
        if secret is None:
            return
        await self._plugin({"request": "moderate", "room": jroom, "secret": secret, "id": pid, "mid": mid,
                            "mute": mute})

    # --- following the group --------------------------------------------------------

    def after_event(self, host, event) -> None:
        """Called by the hub after each delivered event (on the event loop, never awaited).

        Only events that can change who is heard where start a reconciliation, and a
        room has one at a time: while one runs, later ones are folded into one more
        pass after it (a move must not be ordered twice at once)."""
        if not isinstance(event, MOVES):
            return
        room = host.id
        if isinstance(event, ev_mod.BreakoutsClosed):
            self._ended.setdefault(room, set()).add(host.visible.round)
        if isinstance(event, ev_mod.SessionClosed):
            self._closed.add(room)
        if room in self._running:
            self._again.add(room)
            return
        self._running.add(room)
        self._spawn(self._reconcile_room(host))

    async def _reconcile_room(self, host) -> None:
        room = host.id
        try:
            while True:
                self._again.discard(room)
                ended = self._ended.pop(room, set())
                closed = room in self._closed
                self._closed.discard(room)
                await self.reconcile(host, ended, closed)
                if room not in self._again:
                    return
        finally:
            self._running.discard(room)

    def _spawn(self, coro) -> None:
        t = asyncio.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def let_go(self, room: str) -> None:
        """The room moved to another server (its lease passed while this one was paused or cut
        off): its voice here ends, and its Janus rooms with it. Otherwise the pages still in
        them would go on hearing each other where the room's new server rules nothing: a
        removal, a mute or the end of a round would be applied there, not here. The pages
        join again, and reach the new server's Janus (a server relays voice to the holder)."""
        self._spawn(self._let_go(room))

    async def _let_go(self, room: str) -> None:
        for sess in list(self.sessions.get(room, ())):
            await sess.end("the room moved to another server")
        self.sessions.pop(room, None)
        for jroom in [r for r in self.rooms if r.startswith(f"{room}~")]:
            await self.destroy(jroom)

    async def reconcile(self, host, ended_rounds: set[int] = frozenset(), closed: bool = False) -> None:
        state = host.visible
        for sess in list(self.sessions.get(host.id, ())):
            if closed:
                await sess.end("the session has ended")
                continue
            want = voice_room(state, sess.person)
            if want is None:
                await sess.end("you are not in the room")
                continue
            if sess.listen is None and sess.joined is not None and sess.joined != self.janus_room(host.id, want, state.round):
                await sess.moved()
                continue
            if sess.listen is not None and (state.breakouts != "open" or
                                            sess.joined != self.janus_room(host.id, sess.listen, state.round)):
                await sess.moved()
                continue
            await sess.apply_mic(mic_open(state, sess.person))
        for ended_round in ended_rounds:
            prefix = f"{host.id}~r{ended_round}~"
            for jroom in [r for r in self.rooms if r.startswith(prefix)]:
                await self.destroy(jroom)
        if closed:
            for jroom in [r for r in self.rooms if r.startswith(f"{host.id}~")]:
                await self.destroy(jroom)
