"""Janus, owned by the session server: its configuration, its process, its API.

The server starts Debian's `janus` as a child process with a configuration it
writes itself into its data directory (mode 0600: it holds the secrets), or
talks to a Janus that already runs (`--janus URL` with its secrets). Only the
VideoRoom plugin and the websockets transport are loaded; both the API and
the admin API listen on loopback only. Every request needs a token that the
server minted (core `token_auth`), so nothing can attach without us.

Janus gathers no ICE candidates on loopback: in production it uses the
machine's real interfaces (plus TURN, see docs/media.md); the tests run it in
a network namespace with a veth pair (`ice_enforce_list`).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field

log = logging.getLogger("session_server.media")

LIBDIRS = ["/usr/lib/x86_64-linux-gnu/janus", "/usr/lib/aarch64-linux-gnu/janus", "/usr/lib/janus"]


class MediaUnavailable(RuntimeError):
    pass


def janus_binary() -> str | None:
    return shutil.which("janus") or ("/usr/bin/janus" if os.access("/usr/bin/janus", os.X_OK) else None)


def _libdir() -> str:
    for d in LIBDIRS:
        if os.path.isdir(os.path.join(d, "plugins")):
            return d
    raise MediaUnavailable("Janus's plugins were not found (install Debian's janus package)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JanusConfig:
    """Where a Janus listens and the secrets that open it."""
    url: str                      # the API, ws://127.0.0.1:PORT
    admin_url: str                # the admin API
    admin_secret: str
    room_key: str                 # the VideoRoom plugin's admin_key: needed to create rooms
    interfaces: str = ""          # ice_enforce_list, when set
    folder: str = ""


def write_config(folder: str, interfaces: str = "", rtp_ports: str = "20000-40000",
                 nat_1_1: str = "", stun: str = "") -> JanusConfig:
    """Writes a private configuration folder for a Janus of our own."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    lib = _libdir()
    api, admin = _free_port(), _free_port()
    cfg = JanusConfig(url=f"ws://127.0.0.1:{api}", admin_url=f"ws://127.0.0.1:{admin}",
                      admin_secret=secrets.token_hex(24), room_key=secrets.token_hex(24),
                      interfaces=interfaces, folder=folder)
    plugins = [f for f in os.listdir(os.path.join(lib, "plugins"))
               if f.endswith(".so") and f != "libjanus_videoroom.so"]
    transports = [f for f in os.listdir(os.path.join(lib, "transports"))
                  if f.endswith(".so") and f != "libjanus_websockets.so"]
    nat = [f'ice_enforce_list = "{interfaces}"'] if interfaces else []
    if nat_1_1:
        nat.append(f'nat_1_1_mapping = "{nat_1_1}"')
    if stun:
        host, _, port = stun.partition(":")
        nat += [f'stun_server = "{host}"', f"stun_port = {port or 3478}"]
    files = {
        "janus.jcfg": f"""
general: {{
    configs_folder = "{folder}"
    plugins_folder = "{lib}/plugins"
    transports_folder = "{lib}/transports"
    events_folder = "{lib}/events"
    loggers_folder = "{lib}/loggers"
    debug_level = 3
    admin_secret = "{cfg.admin_secret}"
    token_auth = true
    session_timeout = 60
    server_name = "group-console-media"
    hide_dependencies = true
}}
media: {{
    rtp_port_range = "{rtp_ports}"
}}
nat: {{
    {chr(10).join(nat)}
    full_trickle = true
    ignore_mdns = false
}}
plugins: {{
    disable = "{','.join(sorted(plugins))}"
}}
transports: {{
    disable = "{','.join(sorted(transports))}"
}}
events: {{
    broadcast = false
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
""",
        "janus.transport.websockets.jcfg": f"""
general: {{
    json = "compact"
    ws = true
    ws_port = {api}
    ws_ip = "127.0.0.1"
    wss = false
}}
admin: {{
    admin_ws = true
    admin_ws_port = {admin}
    admin_ws_ip = "127.0.0.1"
    admin_wss = false
}}
""",
        # no static rooms: the server creates and destroys every room; never record
        "janus.plugin.videoroom.jcfg": f"""
general: {{
    admin_key = "{cfg.room_key}"
    lock_record = true
    lock_rtp_forward = true
    string_ids = true
}}
""",
    }
    for name, text in files.items():
        path = os.path.join(folder, name)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    with open(os.path.join(folder, "secrets.json"), "w", opener=lambda p, fl: os.open(p, fl, 0o600)) as f:
        json.dump({"url": cfg.url, "admin_url": cfg.admin_url, "admin_secret": cfg.admin_secret,
                   "room_key": cfg.room_key}, f)
    return cfg


def _die_with_parent() -> None:
    """Janus goes when the server goes, even on SIGKILL (Linux's parent-death signal)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except OSError:
        pass


class JanusProcess:
    """Janus as the server's child: started with our configuration, stopped with us."""

    def __init__(self, cfg: JanusConfig):
        self.cfg = cfg
        self.proc: subprocess.Popen | None = None

    async def start(self, timeout: float = 10.0) -> "JanusProcess":
        exe = janus_binary()
        if exe is None:
            raise MediaUnavailable("janus is not installed")
        logf = open(os.path.join(self.cfg.folder, "janus.log"), "ab")
        self.proc = subprocess.Popen([exe, "-F", self.cfg.folder, "-C", os.path.join(self.cfg.folder, "janus.jcfg"),
                                      "-N", "-L", os.path.join(self.cfg.folder, "janus.log")],
                                     stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        logf.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.poll() is not None:
                raise MediaUnavailable(f"janus exited at start ({self.proc.returncode}); see {self.cfg.folder}/janus.log")
            try:
                api = await JanusApi.connect(self.cfg.admin_url, admin=True)
                await api.close()
                return self
            except OSError:
                await asyncio.sleep(0.05)
        self.stop()
        raise MediaUnavailable("janus did not start in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)


class JanusError(RuntimeError):
    def __init__(self, code, reason: str):
        super().__init__(f"janus error {code}: {reason}")
        self.code = code


@dataclass
class JanusApi:
    """One websocket to Janus's API (or its admin API): requests matched to answers
    by transaction, events handed to `on_event`."""
    ws: object
    admin: bool = False
    on_event: object = None
    _pending: dict = field(default_factory=dict)
    _reader: asyncio.Task | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _ack_only: dict = field(default_factory=dict)

    @classmethod
    async def connect(cls, url: str, admin: bool = False, on_event=None) -> "JanusApi":
        from websockets.asyncio.client import connect
        ws = await connect(url, subprotocols=["janus-admin-protocol" if admin else "janus-protocol"],
                           open_timeout=3, max_size=None, ping_interval=None, compression=None)
        api = cls(ws, admin, on_event)
        api._reader = asyncio.create_task(api._read())
        return api

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                tx = msg.get("transaction")
                fut = self._pending.get(tx)
                # an ack is the answer itself for a keepalive or a trickle; otherwise an event follows
                final = msg.get("janus") != "ack" or self._ack_only.pop(tx, False)
                if fut is not None and final:
                    self._pending.pop(tx, None)
                    if not fut.done():
                        fut.set_result(msg)
                elif fut is None and self.on_event is not None:
                    self.on_event(msg)
        except Exception:      # noqa: BLE001 - the connection is gone: fail what waits
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(MediaUnavailable("the connection to janus closed"))
            self._pending.clear()

    async def request(self, msg: dict, timeout: float = 5.0) -> dict:
        tx = f"s{next(self._ids)}"
        msg = dict(msg, transaction=tx)
        fut = asyncio.get_running_loop().create_future()
        self._pending[tx] = fut
        if msg.get("janus") in ("keepalive", "trickle"):
            self._ack_only[tx] = True
        await self.ws.send(json.dumps(msg))
        out = await asyncio.wait_for(fut, timeout)
        if out.get("janus") == "error":
            err = out.get("error", {})
            raise JanusError(err.get("code"), err.get("reason", ""))
        return out

    async def close(self) -> None:
        try:
            await self.ws.close()
        finally:
            if self._reader is not None:
                self._reader.cancel()
