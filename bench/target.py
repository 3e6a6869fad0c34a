"""The server under test, in a process of its own: the project (`bench.serve`) or the bare relay."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile

from bench.media import children, cpu_seconds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Target:
    """A server process: the project (`bench.serve`) or the bare relay (`bench.relay`)."""

    def __init__(self, kind: str, db: str | None = None, secret: bytes = b"", index: int = 0):
        self.kind, self.db, self.secret, self.index = kind, db, secret, index
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.ready_line: list[str] = []

    async def start(self, timeout: float = 60.0) -> "Target":
        if self.kind == "project":
            args = ["-m", "bench.serve", "--db", self.db, "--secret", self.secret.hex()]
        else:
            args = ["-m", "bench.relay"]
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.log = open(os.path.join(tempfile.gettempdir(), f"bench-{self.kind}-server{self.index or ''}.log"), "wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=self.log)
        line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"{self.kind} server did not start")
        self.ready_line = line
        self.port = int(line[1])
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss(self) -> int:
        """Resident memory of the server process, bytes."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def cpu(self) -> float:
        """CPU seconds the server process has used (user + system)."""
        return cpu_seconds(self.pid)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        self.log.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except (asyncio.TimeoutError, TimeoutError):
            self.proc.kill()
            await self.proc.wait()


def postgres_cpu(pg) -> float:
    """CPU seconds used by a LocalPostgres's postmaster and its live children (backends, writers)."""
    try:
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            root = int(f.readline())
    except (OSError, ValueError):
        return 0.0
    total = 0.0
    for pid in (root, *children(root)):      # the postmaster, its backends and writers
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            pass
    return total
