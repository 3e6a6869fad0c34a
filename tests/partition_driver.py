"""A server cut off from its PostgreSQL, run inside a namespace by tests/test_database_partition.py.

    ip netns exec NS python -m tests.partition_driver URL SECRET_FILE

Starts `session-server serve --db URL` here (the database is on the other side of
the namespace's veth pair), runs a group from a facilitator connection, takes the
pair down mid-evening and up again, and prints one JSON object: how long the
command sent while cut off took to be answered and what it was answered, the
server's health meanwhile, and whether the room took writes again after.
"""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from protocol import commands as c
from protocol.frames import Ack
from server import tokens
from server.client import SessionClient


def health(port: int) -> int:
    """What a server's /health answers (its status code)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _link(state: str) -> None:
    subprocess.run(["ip", "link", "set", "v0", state], check=True)


async def story(url: str, secret_file: str, out: dict) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--no-media", "--db", url, "--port", str(port),
                             "--secret-file", secret_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if "session server on" not in line:
            out["error"] = f"the server did not start: {proc.stderr.read()[-1500:]}"
            return
        secret = tokens.load_secret(secret_file)
        tok = tokens.sign(secret, tokens.Claims(room="r1", role="facilitator", id="f1", name="Dana",
                                                exp=time.time() + 3600))
        f = SessionClient(f"ws://127.0.0.1:{port}", tok)
        await f.connect()
        out["before"] = type(await f.command(c.Configure(title="T"))).__name__
        _link("down")
        t0 = time.monotonic()
        try:
            r = await f.command(c.Open(), timeout=60)
            out["cut_off_answer"] = getattr(r, "code", type(r).__name__)
        except Exception as exc:     # noqa: BLE001 - what it was is the finding
            out["cut_off_answer"] = f"no answer: {type(exc).__name__}"
        out["cut_off_answer_s"] = round(time.monotonic() - t0, 1)
        # read-only for a while (a database restart is ridden through), then out of the proxy's pool
        out["health_at_first"] = health(port)
        while health(port) != 503 and time.monotonic() - t0 < 60:
            await asyncio.sleep(0.25)
        out["health_503_after_s"] = round(time.monotonic() - t0, 1)
        _link("up")
        t1 = time.monotonic()
        answered = None
        while time.monotonic() - t1 < 30:
            r = await f.command(c.Open(), timeout=30)
            if isinstance(r, Ack):
                answered = time.monotonic() - t1
                break
            await asyncio.sleep(0.5)
        out["writes_again_s"] = None if answered is None else round(answered, 1)
        out["health_after"] = health(port)
        out["facilitator_cut_off"] = f.closed.is_set()
        await f.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        out["tracebacks"] = proc.stderr.read().count("Traceback")


def main(url: str, secret_file: str) -> int:
    out: dict = {}
    try:
        asyncio.run(story(url, secret_file, out))
    finally:
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
