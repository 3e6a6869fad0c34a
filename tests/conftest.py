"""Shared fixtures: a real server on loopback with a real SQLite record."""
from __future__ import annotations

import os
import secrets
import shutil

import pytest

from protocol import commands as c
from server.app import EmbeddedServer
from protocol.frames import Ack
from server.client import SessionClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(ROOT, "tests", "scenarios")


@pytest.fixture
async def server(tmp_path):
    srv = EmbeddedServer(str(tmp_path / "record.db"), secrets.token_bytes(32))
    await srv.start()
    yield srv
    await srv.stop()


class Group:
    """A small live group on a real server: a facilitator plus participants."""

    def __init__(self, srv: EmbeddedServer, room: str = "r1"):
        self.srv, self.room = srv, room
        self.clients: dict[str, SessionClient] = {}

    def client(self, pid: str, role: str = "participant", name: str | None = None,
               binary: bool = True) -> SessionClient:
        cl = SessionClient(self.srv.url, self.srv.token(self.room, role, pid, name or pid.upper()),
                           binary=binary, name=pid)
        self.clients[pid] = cl
        return cl

    async def start(self, participants=("p1", "p2", "p3"), capacity: int = 12, **cfg) -> SessionClient:
        f = self.client("f1", "facilitator", "Dana")
        await f.connect()
        roster = [c.RosterEntry(id=p, name=p.upper()) for p in participants]
        r = await f.command(c.Configure(title="Test group", capacity=capacity, roster=roster, **cfg))
        assert isinstance(r, Ack), r
        r = await f.command(c.Open())
        assert isinstance(r, Ack), r
        return f

    async def admit(self, *pids: str, binary: bool = True) -> None:
        f = self.clients["f1"]
        for pid in pids:
            cl = self.client(pid, binary=binary)
            await cl.connect()
            r = await f.command(c.Admit(target=pid))
            assert isinstance(r, Ack), r
            await cl.sync()

    async def close(self) -> None:
        for cl in self.clients.values():
            try:
                await cl.close()
            except Exception:
                pass


@pytest.fixture
async def group(server):
    g = Group(server)
    yield g
    await g.close()


def _needs(tool: str, why: str):
    """A test that needs a program fails, never skips, when it is missing: ./run-tests
    installs every one of them (.ci/install-services), so a missing one is a broken setup."""
    @pytest.fixture
    def fixture():
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; it is needed {why} (./run-tests installs it)")
    return fixture


needs_tmux = _needs("tmux", "to drive the console in a real terminal")
needs_node = _needs("node", "to run the page's JavaScript")
needs_git = _needs("git", "to list the tracked files")
