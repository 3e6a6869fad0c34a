"""The HTTP edge: malformed requests get 400 and an audit row, strangers' Host and Origin are refused,
and running out of file descriptors is one line a second while the group goes on.

A real `session-server serve` in a subprocess, raw sockets, the real record.
"""
from __future__ import annotations

import os
import resource
import socket
import ssl
import sqlite3
import subprocess
import sys
import time

import msgspec
import pytest
from websockets.sync.client import connect

from campaigns.common import HOST, free_port
from protocol.frames import PROTOCOL_VERSION, Hello, Ping, Pong, Welcome, decode_server, encode
from server import tokens
from tests.conftest import ROOT

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


class Serve:
    def __init__(self, tmp, *extra: str, nofile: int | None = None):
        self.port = free_port()
        self.db = str(tmp / "record.db")
        self.secret_file = str(tmp / "secret")
        fd = os.open(self.secret_file, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, os.urandom(32).hex().encode())
        os.close(fd)
        self.log = str(tmp / "serve.log")
        self.tls = "--certfile" in extra

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--host", HOST, "--port", str(self.port),
                 "--db", self.db, "--secret-file", self.secret_file, *extra],
                stdout=subprocess.PIPE, stderr=err, env=env, preexec_fn=limit)
        line = self.proc.stdout.readline()
        assert b"session server on" in line, open(self.log).read()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.proc.stdout.close()

    def log_text(self) -> str:
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def refusals(self) -> list[str]:
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        rows = [msgspec.msgpack.decode(b)["message"] for (b,) in db.execute(
            "SELECT body FROM log WHERE room = '~gateway' AND kind = 'rejected' AND type = 'hello'")]
        db.close()
        return rows

    def token(self, role: str = "facilitator", pid: str = "f1") -> str:
        secret = tokens.load_secret(self.secret_file, create=False)
        return tokens.sign(secret, tokens.Claims(room="r1", role=role, id=pid, name="Dana", exp=time.time() + 600))

    def raw(self, request: str, timeout: float = 5.0) -> str:
        """Sends one request as bytes; returns the status line."""
        with socket.create_connection((HOST, self.port), timeout=timeout) as plain:
            s = plain
            if self.tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE   # the test's own certificate
                s = ctx.wrap_socket(plain, server_hostname=HOST)
            s.sendall(request.encode())
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.split(b"\r\n", 1)[0].decode()

    def upgrade(self, *lines: str, host: str | None = None) -> str:
        head = ["GET / HTTP/1.1", f"Host: {host if host is not None else f'{HOST}:{self.port}'}", "Upgrade: websocket",
                "Connection: Upgrade", f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13", *lines]
        return self.raw("\r\n".join(head) + "\r\n\r\n")

    def get(self, path: str, *lines: str, host: str | None = None) -> str:
        head = [f"GET {path} HTTP/1.1", f"Host: {host if host is not None else f'{HOST}:{self.port}'}", *lines]
        return self.raw("\r\n".join(head) + "\r\n\r\n")


@pytest.fixture
def serve(tmp_path):
    srv = Serve(tmp_path)
    yield srv
    srv.stop()


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_repeated_headers_get_400_an_audit_row_and_no_traceback(serve):
    hp = f"{HOST}:{serve.port}"
    assert serve.raw(f"GET / HTTP/1.1\r\nHost: {hp}\r\nHost: other.example\r\n\r\n").startswith("HTTP/1.1 400")
    assert serve.get("/static/js/link.js", 'If-None-Match: "a"', 'If-None-Match: "b"').startswith("HTTP/1.1 400")
    assert serve.get("/", 'If-None-Match: "a"', 'If-None-Match: "b"').startswith("HTTP/1.1 400")
    assert serve.upgrade("Upgrade: websocket").startswith("HTTP/1.1 400")
    assert serve.upgrade(f"Origin: http://{hp}", f"Origin: http://{hp}").startswith("HTTP/1.1 400")
    bearer = "Authorization: Bearer " + serve.token()
    assert serve.upgrade(bearer, bearer).startswith("HTTP/1.1 400")
    # a well-formed request still works, once each header is said once
    assert serve.get("/static/js/link.js").startswith("HTTP/1.1 200")
    assert serve.upgrade(f"Origin: http://{hp}").startswith("HTTP/1.1 101")
    want = [f"repeated {h} header" for h in ("Host", "If-None-Match", "If-None-Match", "Upgrade", "Origin",
                                             "Authorization")]
    assert wait_for(lambda: serve.refusals() == want), serve.refusals()
    log = serve.log_text()
    # no 500 answered (a log line's milliseconds may read ",500": look at the status only)
    assert "Traceback" not in log and "(500 " not in log and serve.token() not in log


def test_a_host_the_server_does_not_serve_is_refused_against_dns_rebinding(tmp_path):
    srv = Serve(tmp_path, "--allow-host", "group.example.org")
    try:
        # the attacker's page, its name now resolving to 127.0.0.1, names itself in Host
        assert srv.get("/", host=f"rebind.attacker.example:{srv.port}").startswith("HTTP/1.1 421")
        assert srv.upgrade(f"Origin: http://rebind.attacker.example:{srv.port}",
                           host=f"rebind.attacker.example:{srv.port}").startswith("HTTP/1.1 421")
        assert srv.get("/", host="").startswith("HTTP/1.1 421")
        for host in (f"{HOST}:{srv.port}", f"localhost:{srv.port}", "group.example.org", "GROUP.example.org:443"):
            assert srv.get("/", host=host).startswith("HTTP/1.1 200"), host
        assert wait_for(lambda: srv.refusals().count("a Host this server does not serve") == 3), srv.refusals()
    finally:
        srv.stop()


def test_the_origin_check_looks_at_the_scheme_too(tmp_path):
    srv = Serve(tmp_path, "--allow-origin", "https://group.example.org")
    try:
        hp = f"{HOST}:{srv.port}"
        assert srv.upgrade(f"Origin: http://{hp}").startswith("HTTP/1.1 101")       # the page it served
        for origin in (f"https://{hp}", f"ws://{hp}", f"file://{hp}", "null", hp, f"http://{hp}.evil.example"):
            assert srv.upgrade(f"Origin: {origin}").startswith("HTTP/1.1 403"), origin
        # behind a TLS proxy: the public origin, listed, with its name as the Host
        assert srv.upgrade("Origin: https://group.example.org", host="group.example.org").startswith("HTTP/1.1 101")
        assert srv.upgrade("Origin: https://other.example.org", host="group.example.org").startswith("HTTP/1.1 403")
    finally:
        srv.stop()


def test_with_tls_only_an_https_origin_is_the_servers_own(tmp_path):
    from campaigns.access import make_certificate
    cert, key = make_certificate(str(tmp_path))
    srv = Serve(tmp_path, "--certfile", cert, "--keyfile", key)
    try:
        hp = f"{HOST}:{srv.port}"
        assert srv.upgrade(f"Origin: https://{hp}").startswith("HTTP/1.1 101")
        assert srv.upgrade(f"Origin: http://{hp}").startswith("HTTP/1.1 403")   # a plain page, same host and port
        assert srv.upgrade(f"Origin: wss://{hp}").startswith("HTTP/1.1 403")
    finally:
        srv.stop()


def hello(ws, token: str) -> Welcome:
    ws.send(encode(Hello(token=token, protocol=PROTOCOL_VERSION), True))
    frame = decode_server(ws.recv(timeout=10))
    assert isinstance(frame, Welcome), frame
    return frame


def test_out_of_file_descriptors_is_one_line_a_second_and_the_open_group_goes_on(tmp_path):
    srv = Serve(tmp_path, nofile=64)
    knocks: list[socket.socket] = []
    try:
        with connect(f"ws://{HOST}:{srv.port}", open_timeout=10) as ws:
            hello(ws, srv.token())
            started = time.monotonic()
            for _ in range(150):          # far past what 64 descriptors can take
                try:
                    knocks.append(socket.create_connection((HOST, srv.port), timeout=2))
                except OSError:
                    break
            assert wait_for(lambda: "cannot accept connections" in srv.log_text(), 10), srv.log_text()[-2000:]
            time.sleep(3)
            for i in range(3):            # the connection that was already in still gets answers
                ws.send(encode(Ping(id=i), True))
                pong = decode_server(ws.recv(timeout=5))
                assert isinstance(pong, Pong) and pong.id == i
            elapsed = time.monotonic() - started
        log = srv.log_text()
        lines = [x for x in log.splitlines() if "cannot accept connections" in x]
        assert "Traceback" not in log, log[-3000:]
        assert 1 <= len(lines) <= elapsed + 1, lines
        assert len(log.splitlines()) < 300
    finally:
        for s in knocks:
            s.close()
        srv.stop()
    assert "Traceback" not in srv.log_text()      # nor at shutdown, with accepts still pending


def test_the_page_on_its_own_answers_a_repeated_header_with_400():
    # defence in depth: the gateway refuses these first, but the page's handler may be reached another way
    from websockets.datastructures import Headers
    from websockets.http11 import Request
    from server.web import make_http_handler
    handle = make_http_handler()
    for path, name in (("/", "Host"), ("/static/js/link.js", "Host"), ("/static/js/link.js", "If-None-Match")):
        r = handle(None, Request(path, Headers([("Host", "127.0.0.1"), (name, "a"), (name, "b")])))
        assert r.status_code == 400 and f"repeated {name}".encode() in r.body, (path, name, r.body)
