"""Assembles a running server: record, hub, gateway, listening socket.

`EmbeddedServer` is what the console, the scenario runner, the tests and the
benchmark start in-process; `session-server serve` runs the same thing.
"""
from __future__ import annotations

import asyncio
import logging
import os
import ssl as ssl_mod

from server import tokens
from server.clock import RealClock
from server.gateway import Gateway, Limits, start_server
from server.hub import Hub
from server.record import open_record

log = logging.getLogger("session_server")


class EmbeddedServer:
    def __init__(self, db: str, secret: bytes, *, host: str = "127.0.0.1", port: int = 0,
                 clock=None, limits: Limits | None = None, certfile: str | None = None,
                 keyfile: str | None = None, http=None, allowed_hosts: set[str] | None = None,
                 allowed_origins: set[str] | None = None, advertise: str | None = None,
                 media=None):
        self.db, self.secret, self.host, self.port = db, secret, host, port
        # the names a Host header may carry besides IP literals and localhost (server/http_edge.py);
        # a name to listen on is one the server serves
        self.allowed_hosts = set(allowed_hosts or ()) | ({host} if host and not _is_ip(host) else set())
        self.allowed_origins = allowed_origins
        self.clock = clock or RealClock()
        self.limits = limits
        self.certfile, self.keyfile = certfile, keyfile
        self.http = http
        self.advertise = advertise   # how other servers reach this one, with a shared record
        # voice: None (off), a server.media.MediaOptions to start or reach a Janus
        self.media = media
        self.janus = None
        self.hub: Hub | None = None
        self.gateway: Gateway | None = None
        self._server = None

    async def start(self) -> "EmbeddedServer":
        record = open_record(self.db)
        try:
            return await self._start(record)
        except BaseException:
            # a start that failed (a port taken, a damaged room) lets go of the record
            # and its writer lock, so that the caller may try again
            if self.hub is not None and self.hub._tasks:
                await self.hub.stop()
            if self.hub is not None and self.hub.leases is not None:
                self.hub.leases.close()
            record.close()
            self.hub = None
            raise

    async def _start(self, record) -> "EmbeddedServer":
        self.hub = Hub(record, self.clock, self.secret)
        if self.hub.shared:
            from server.leases import Leases
            # the address other servers relay to; known once listening (see below)
            self.hub.leases = record.leases = Leases(self.db, address="")
        n = self.hub.load()
        # time never goes back across a restart either: a start after the wall clock was
        # stepped back dates nothing before what the record already holds
        last = record.last_at()
        if last is not None and hasattr(self.clock, "not_before"):
            self.clock.not_before(last)
        await self.hub.start()
        if self.media is not None:
            from server.media import start_media
            from server.media.janus import MediaUnavailable
            try:
                self.janus, self.hub.media = await start_media(self.media)
            except (MediaUnavailable, OSError) as exc:
                log.warning("voice is off: %s", exc)
        http = self.http
        if http is None:
            try:
                from server.web import make_http_handler   # the participant page, when present
                http = make_http_handler()
            except ImportError:
                http = None
        self.gateway = Gateway(self.hub, self.limits, http=http, allowed_hosts=self.allowed_hosts,
                               allowed_origins=self.allowed_origins)
        ctx = None
        if self.certfile:
            ctx = ssl_mod.SSLContext(ssl_mod.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.certfile, self.keyfile)
        self._server = await start_server(self.gateway, self.host, self.port, ssl=ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.hub.leases is not None:
            self.hub.leases.address = self.advertise or self.url
        log.info("serving on port %d, %d events and %d rooms rebuilt", self.port, n, len(self.hub.rooms))
        return self

    @property
    def url(self) -> str:
        scheme = "wss" if self.certfile else "ws"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        scheme = "https" if self.certfile else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def token(self, room: str, role: str, person: str, name: str, ttl: float = 12 * 3600) -> str:
        return tokens.sign(self.secret, tokens.Claims(room=room, role=role, id=person, name=name,
                                                      exp=self.clock.now() + ttl if not self.clock.virtual
                                                      else 4102444800.0))

    async def stop(self) -> None:
        if self.hub is not None:
            # first the stop's drops, while the committer still runs (then no more arrivals)
            await self.hub.record_stop()
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(asyncio.shield(self._server.wait_closed()), 1)
            except (asyncio.TimeoutError, TimeoutError):
                # peers that do not answer the close would hold each handler for the
                # websocket close timeout (10 s): a stop must not wait on them
                for ws in list(self.gateway.live if self.gateway else ()):
                    if ws.transport is not None:
                        ws.transport.abort()
                try:
                    await asyncio.wait_for(self._server.wait_closed(), 0.5)
                except (asyncio.TimeoutError, TimeoutError):
                    log.warning("stopping with connections still open")
        if self.gateway is not None:
            await self.gateway.stop_keepalive()
        if self.hub is not None and self.hub.media is not None:
            await self.hub.media.stop()
        if self.janus is not None:
            self.janus.stop()
        if self.hub is not None:
            await self.hub.stop()
            self.hub.record.close()

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()


def default_paths() -> tuple[str, str]:
    """The record and the secret in the user's data directory."""
    from platformdirs import user_data_dir
    d = user_data_dir("group-console", appauthor=False)
    os.makedirs(d, mode=0o700, exist_ok=True)
    return os.path.join(d, "records.db"), os.path.join(d, "secret")


def _is_ip(host: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False
