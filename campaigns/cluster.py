"""Several session servers behind HAProxy on one PostgreSQL record, as processes on loopback.

Used by the failover campaign, its short version in the suite, and the bench.
HAProxy runs the shipped `deploy/haproxy.cfg` as it is, its addresses given
in the environment.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request

from campaigns.common import HOST, ServerProcess, free_port, make_secret
from server.record.pgserver import LocalPostgres

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAPROXY_CFG = os.path.join(ROOT, "deploy", "haproxy.cfg")


class HAProxy:
    def __init__(self, workdir: str, servers: list[int], port: int | None = None):
        self.port = port or free_port()
        self.workdir = workdir
        self.servers = servers
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> "HAProxy":
        exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.path.exists(exe):
            raise RuntimeError("haproxy not found: install Debian's haproxy package")
        env = dict(os.environ, HAPROXY_BIND=f"{HOST}:{self.port}")
        for i, port in enumerate(self.servers, 1):
            env[f"SESSION_SERVER_{i}"] = f"{HOST}:{port}"
        log = open(os.path.join(self.workdir, "haproxy.log"), "ab")
        self.proc = subprocess.Popen([exe, "-db", "-f", HAPROXY_CFG], env=env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("haproxy did not become ready")

    def log_tail(self) -> str:
        try:
            with open(os.path.join(self.workdir, "haproxy.log"), "rb") as f:
                return f.read()[-1500:].decode(errors="replace")
        except OSError:
            return ""

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Cluster:
    """PostgreSQL, N servers and HAProxy; `with Cluster(wd, 3) as cl: cl.url`."""

    def __init__(self, workdir: str, n: int = 3, pg: LocalPostgres | None = None):
        self.workdir = workdir
        self.own_pg = pg is None
        self.pg = pg or LocalPostgres()
        self.n = n
        self.servers: list[ServerProcess] = []
        self.proxy: HAProxy | None = None
        self.db = ""
        self.secret_file = os.path.join(workdir, "secret")

    def start(self) -> "Cluster":
        if self.own_pg:
            self.pg.start()
        self.db = self.pg.create_database()
        make_secret(self.secret_file)
        for i in range(self.n):
            d = os.path.join(self.workdir, f"s{i + 1}")
            os.makedirs(d, exist_ok=True)
            self.servers.append(ServerProcess(d, db=self.db, secret_file=self.secret_file).start())
        self.proxy = HAProxy(self.workdir, [s.port for s in self.servers]).start()
        return self

    @property
    def url(self) -> str:
        return self.proxy.url

    def token(self, room: str, role: str, person: str, name: str) -> str:
        return self.servers[0].token(room, role, person, name)

    def owner_of(self, room: str) -> ServerProcess | None:
        """The server holding the room's lease now (from the table that decides)."""
        import psycopg
        with psycopg.connect(self.db, autocommit=True) as db:
            row = db.execute("SELECT address FROM leases WHERE room = %s AND expires > clock_timestamp()",
                             (room,)).fetchone()
        if row is None:
            return None
        for s in self.servers:
            if row[0].endswith(f":{s.port}"):
                return s
        return None

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        for s in self.servers:
            s.stop()
        if self.own_pg:
            self.pg.stop()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
