"""What every campaign shares: a server in a subprocess, tokens, figures, RSS.

Every load here goes to 127.0.0.1 only, and every loop is bounded in count
and in time.
"""
from __future__ import annotations

import glob
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from server import tokens

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_fd_limit(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (no psutil needed)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ServerProcess:
    """`session-server serve` (or `python -m campaigns.serve` with test limits)
    as a child process, with its log captured to a file."""

    def __init__(self, workdir: str, port: int | None = None, db: str | None = None,
                 secret_file: str | None = None, certfile: str | None = None, keyfile: str | None = None,
                 limits: dict | None = None, umask: int | None = None):
        self.workdir = workdir
        self.port = port or free_port()
        self.db = db or os.path.join(workdir, "record.db")
        self.secret_file = secret_file or os.path.join(workdir, "secret")
        self.certfile, self.keyfile = certfile, keyfile
        self.limits = limits
        self.umask = umask
        self.log_path = os.path.join(workdir, "server.log")
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        if self.limits:
            base = [sys.executable, "-m", "campaigns.serve"]
            for k, v in self.limits.items():
                base += [f"--{k.replace('_', '-')}", str(v)]
        else:
            base = [sys.executable, "-m", "server.cli"]   # exactly `session-server`
        argv = base + ["serve", "--host", HOST, "--port", str(self.port), "--db", self.db,
                       "--secret-file", self.secret_file]
        if not self.limits:
            argv.append("--no-media")     # the campaigns are about the record and the gateway
        if self.certfile:
            argv += ["--certfile", self.certfile, "--keyfile", self.keyfile]
        return argv

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        log = open(self.log_path, "ab")
        umask = self.umask

        def pre():
            if umask is not None:
                os.umask(umask)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=log, cwd=self.workdir,
                                     env=env, preexec_fn=pre)
        log.close()
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if b"session server on" in line:
                break
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}): {self.log_tail()}")
        else:
            self.kill()
            raise RuntimeError("the server did not start in time")
        self.starts += 1
        return self

    def log_tail(self, n: int = 2000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    @property
    def url(self) -> str:
        return f"{'wss' if self.certfile else 'ws'}://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no flush, no close, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)
            if self.proc.stdout:
                self.proc.stdout.close()

    def stop(self) -> int | None:
        """SIGTERM, the orderly way; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def secret(self) -> bytes:
        return tokens.load_secret(self.secret_file, create=False)

    def token(self, room: str, role: str, person: str, name: str, ttl: float = 3600.0) -> str:
        return tokens.sign(self.secret(), tokens.Claims(room=room, role=role, id=person, name=name,
                                                        exp=time.time() + ttl))


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NoScenarios(RuntimeError):
    """The campaign found no scenario to play: a check over nothing must not pass."""


SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")


def scenario_paths(folder: str = SCENARIOS) -> list[str]:
    """Every scenario file of the library, sorted. It ships with the campaigns (an installed
    wheel has it; tests/scenarios is a link to it in a checkout).

    Raises `NoScenarios` when there is none: a leak check or a tamper run over no
    scenario would pass over nothing."""
    paths = sorted(glob.glob(os.path.join(folder, "*.toml")))
    if not paths:
        raise NoScenarios(f"no scenario found in {folder}: the campaigns' scenario library is missing")
    return paths


def make_secret(path: str) -> bytes:
    return tokens.load_secret(path, create=True)


def workdir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=f"campaign-{prefix}-")


@dataclass
class Figures:
    """The counts a campaign prints; failures are kept as short sentences."""
    campaign: str
    seed: int
    quick: bool
    counts: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def fail(self, what: str, kind: str | None = None) -> None:
        """Records a failure; with `kind`, only the first few of that kind are kept in full."""
        if kind is not None:
            n = self.counts.setdefault("failure_kinds", {}).get(kind, 0) + 1
            self.counts["failure_kinds"][kind] = n
            if n > 5:
                self.failures.append(kind)
                return
        self.failures.append(what)
        print(f"FAIL {self.campaign}: {what}", file=sys.stderr, flush=True)

    def check(self, ok: bool, what: str) -> bool:
        self.add("checks")
        if not ok:
            self.fail(what)
        return ok

    def line(self) -> dict:
        out = {"campaign": self.campaign, "seed": self.seed, "quick": self.quick}
        out.update(self.counts)
        out["failures"] = len(self.failures)
        out["first_failures"] = list(dict.fromkeys(self.failures))[:10]
        out["seconds"] = round(time.monotonic() - self.started, 1)
        return out

    def emit(self) -> int:
        print(json.dumps(self.line()), flush=True)
        return 1 if self.failures else 0


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]
