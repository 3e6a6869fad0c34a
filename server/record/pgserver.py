"""A throwaway PostgreSQL server of our own, for tests, campaigns and benchmarks.

Debian's PostgreSQL binaries (`initdb`, `pg_ctl`) run against a data directory
in a temporary folder, listening on loopback and a private socket directory
only. PostgreSQL refuses to run as root, so when we are root the cluster
belongs to the `postgres` user (CI runs as root).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


class PostgresUnavailable(RuntimeError):
    pass


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    raise PostgresUnavailable(f"{name} not found: install Debian's postgresql package")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """`with LocalPostgres() as pg: pg.url` gives a fresh, empty cluster."""

    def __init__(self, base: str | None = None, listen: tuple[str, ...] = ("127.0.0.1",)):
        self.listen = listen      # addresses to listen on; any beyond loopback trusts its own subnet
        self.base = tempfile.mkdtemp(prefix="pg-", dir=base)
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._n = 0

    def _run(self, argv: list[str]) -> None:
        name = os.path.basename(argv[0])
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise PostgresUnavailable(f"{name}: {r.stderr.strip()[-400:]}")

    def start(self) -> "LocalPostgres":
        os.makedirs(self.sock)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sock, "postgres")
        self._run([_bin("initdb"), "-D", self.data, "-A", "trust", "-U", self.user, "--no-sync", "-E", "UTF8"])
        if any(a != "127.0.0.1" for a in self.listen):
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write("host all all samenet trust\n")
        self._start()
        return self

    def _start(self) -> None:
        opts = (f"-c listen_addresses={','.join(self.listen)} -p {self.port} -k {self.sock} "
                "-c fsync=on -c synchronous_commit=on -c max_connections=200")
        self._run([_bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.base, "log"), "-w",
                   "-o", opts, "start"])

    def restart(self, down_s: float = 0.0) -> None:
        """Stops the cluster as an operator's restart does (`-m fast`: every connection
        is ended), stays down `down_s` seconds, and starts it again on the same data."""
        self._run([_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])
        time.sleep(down_s)
        self._start()

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg
        self._n += 1
        name = name or f"rec{self._n}"
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run([_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
        except PostgresUnavailable:
            pass
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
