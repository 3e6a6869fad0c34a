"""A room on this machine: an embedded server, a room set up and opened, tokens.

The demo, `facilitator --room`, the tests and the benchmark all start rooms
the same way, so the console they exercise is the console people use.
"""
from __future__ import annotations

import json
import os
import uuid

from protocol import commands as c
from protocol.frames import Error
from server.app import EmbeddedServer
from server.engine import Actor

FACILITATOR = ("fac-1", "Dana")


async def start_server(db: str, secret: bytes, clock=None, port: int = 0) -> EmbeddedServer:
    server = EmbeddedServer(db, secret, port=port, clock=clock)
    return await server.start()


# A local room keeps its port across console restarts, so that the links already sent
# still work when the facilitator starts `facilitator --room R` again.
PORTS_FILE = "ports.json"


def remembered_port(data_dir: str, room: str) -> int | None:
    try:
        with open(os.path.join(data_dir, PORTS_FILE)) as f:
            port = json.load(f).get(room)
    except (OSError, ValueError, AttributeError):
        return None
    return port if isinstance(port, int) and 0 < port < 65536 else None


def remember_port(data_dir: str, room: str, port: int) -> None:
    path = os.path.join(data_dir, PORTS_FILE)
    try:
        with open(path) as f:
            ports = json.load(f)
        if not isinstance(ports, dict):
            ports = {}
    except (OSError, ValueError):
        ports = {}
    ports[room] = port
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.replace(tmp, path)


async def start_room_server(db: str, secret: bytes, room: str) -> tuple[EmbeddedServer, str]:
    """The room's server on the port it had last time; a note when that port is taken."""
    data_dir = os.path.dirname(os.path.abspath(db))
    port = remembered_port(data_dir, room)
    note = ""
    try:
        server = await start_server(db, secret, port=port or 0)
    except OSError:
        if port is None:
            raise
        server = await start_server(db, secret)
        note = (f"Port {port} is taken by another program: the links sent earlier no longer work. "
                "Send the new ones (i).")
    remember_port(data_dir, room, server.port)
    return server, note


async def as_facilitator(server: EmbeddedServer, room: str, cmd: c.Command,
                         who: tuple[str, str] = FACILITATOR):
    """Runs a command as the room's facilitator inside the server (no connection needed)."""
    host = server.hub.room(room)
    return await server.hub.command(host, Actor(who[0], "facilitator", who[1]), f"setup-{uuid.uuid4().hex[:10]}", cmd)


async def prepare_room(server: EmbeddedServer, room: str, configure: c.Configure | None = None,
                       open_it: bool = True, who: tuple[str, str] = FACILITATOR) -> None:
    """Sets a room up and opens it, unless it already runs (a restarted console)."""
    host = server.hub.room(room)
    if host.state.phase != "setup":
        return
    for cmd in ([configure] if configure is not None else []) + ([c.Open()] if open_it else []):
        result = await as_facilitator(server, room, cmd, who)
        if isinstance(result, Error):
            raise RuntimeError(f"could not set up room {room}: {result.message}")


def staff_link(server: EmbeddedServer, token: str) -> str:
    """The staff voice page: staff carry their voice in a browser, the console stays the controls."""
    return f"{server.http_url}/staff#t={token}"


def invite_fn(server: EmbeddedServer, room: str, token_dir: str | None = None):
    """Makes `(token, page link, terminal command)` for a new participant."""
    def issue(pid: str, name: str) -> tuple[str, str, str]:
        token = server.token(room, "participant", pid, name)
        link = f"{server.http_url}/#t={token}"
        if token_dir is not None:
            os.makedirs(token_dir, mode=0o700, exist_ok=True)
            path = os.path.join(token_dir, f"{pid}.token")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(token + "\n")
            command = f"facilitator join {server.url} --token-file {path}"
        else:
            command = f"FACILITATOR_TOKEN=... facilitator join {server.url}"
        return token, link, command
    return issue
