"""The HTTP in front of the websocket: which requests get as far as a hello.

Three things are decided here, before the gateway or the page sees a request:

- **Repeated headers.** A request that says `Host`, `Origin`, `Upgrade`,
  `Authorization` or `If-None-Match` twice is malformed for us: which of the
  two would count is exactly what an attacker in front of a proxy plays with.
  It gets 400 (and an audit row, as a refused hello), never the 500 and the
  traceback that websockets' `Headers.get` raising used to give.
- **Host** (DNS rebinding). A page on a name the attacker controls can have
  that name resolve to 127.0.0.1 or to a machine on the local network; the
  browser then treats our server as the attacker's origin. Such a request
  always carries the attacker's name in `Host`, so only the names the server
  serves are accepted: IP literals, `localhost`, and names given with
  `--allow-host` (or `--host` itself, or an `--allow-origin`'s host).
- **Origin.** A browser page may open a websocket only to the server that
  served it: same scheme (https with TLS, http without), same host and port;
  or an origin listed with `--allow-origin`.

And one more for the logs: when the process runs out of file descriptors,
asyncio logs one traceback per failed accept, about a thousand a second.
`AcceptLog` turns that into at most one line a second, with a count.
"""
from __future__ import annotations

import ipaddress
import logging
import time

log = logging.getLogger("session_server.gateway")

SINGLE = ("Host", "Origin", "Upgrade", "Authorization", "If-None-Match")


def repeated(headers) -> str | None:
    """The first header that must appear once but came more than once."""
    for name in SINGLE:
        if len(headers.get_all(name)) > 1:
            return name
    return None


def split_host(host: str) -> tuple[str, str | None]:
    """("name", "port") of a Host header value; IPv6 stays in its brackets."""
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, None
        rest = host[end + 1:]
        return host[:end + 1].lower(), rest[1:] if rest.startswith(":") else None
    name, sep, port = host.rpartition(":")
    if not sep:
        return host.lower(), None
    return name.lower(), port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") else name)
        return True
    except ValueError:
        return False


def host_ok(host: str | None, allowed: frozenset[str]) -> bool:
    """True for a Host this server serves (see the module's note on rebinding)."""
    if not host:
        return False
    name, port = split_host(host)
    if port is not None and not port.isdigit():
        return False
    name = name.rstrip(".")
    return _is_ip(name) or name == "localhost" or name in allowed


def origin_ok(origin: str, host: str, tls: bool, allowed_origins: set[str] | None) -> bool:
    if allowed_origins and origin.rstrip("/").lower() in allowed_origins:
        return True
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme.lower() != ("https" if tls else "http"):
        return False      # "null", a file: page, or http while we speak TLS (or the reverse)
    return rest.rstrip("/").lower() == host.strip().lower()


def is_tls(connection) -> bool:
    transport = getattr(connection, "transport", None)
    try:
        return transport is not None and transport.get_extra_info("sslcontext") is not None
    except Exception:   # noqa: BLE001 - a transport that cannot say is treated as plain
        return False


class AcceptLog:
    """An event-loop exception handler for running out of file descriptors.

    asyncio removes the listening socket's reader and tries again a second
    later, so open connections go on; but it reports every failed accept
    (up to a hundred per wake-up) with a traceback, and once the server has
    closed, each retry still pending reports a bad descriptor. Those become
    one line a second, saying how many there were; anything else goes to the
    handler that was there before."""

    def __init__(self, loop, every: float = 1.0):
        self.loop, self.every = loop, every
        self.previous = loop.get_exception_handler()
        self.count = 0
        self.said = 0.0
        self.lines = 0

    def install(self) -> "AcceptLog":
        self.loop.set_exception_handler(self)
        return self

    def __call__(self, loop, context: dict) -> None:
        exc = context.get("exception")
        msg = context.get("message", "")
        handle = repr(context.get("handle", ""))
        if msg.startswith("socket.accept() out of system resource"):
            self._counted(exc)
            return
        if isinstance(exc, (OSError, ValueError)) and "_start_serving" in handle:
            return      # a retry of the accept after the server closed its socket: nothing left to serve
        if self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)

    def _counted(self, exc) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.said >= self.every:
            self.lines += 1
            log.warning("cannot accept connections: %s (%d accepts failed since the last such line); "
                        "open connections go on", getattr(exc, "strerror", None) or exc, self.count)
            self.count = 0
            self.said = now
