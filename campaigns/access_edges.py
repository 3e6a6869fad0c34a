"""The access campaign at the server's edges: tokens refused at the hello, TLS end to end,
and the files the server makes (part of `Access`, campaigns/access.py)."""
from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import stat
import subprocess
import sys
import time

import msgspec

from campaigns.access_table import F, NAMES, P
from campaigns.certificates import make_certificate
from campaigns.common import ServerProcess
from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack, Welcome
from server import tokens
from server.client import ClientError, SessionClient


class Edges:
    """Part of the access campaign (campaigns/access.py), kept apart because it reads as one subject."""

    # --- 3. tokens -------------------------------------------------------------------------

    async def bad_tokens(self) -> None:
        fig = self.fig
        secret = self.srv.secret()
        now = time.time()
        good = tokens.Claims(room="room-a", role=P, id="pa", name=NAMES["p"], exp=now + 3600)

        def edit(token: str, **changes) -> str:
            p64, m64 = token.split(".")
            payload = json.loads(tokens._unb64(p64))
            payload.update(changes)
            return tokens._b64(json.dumps(payload).encode()) + "." + m64

        other_room = tokens.sign(secret, tokens.Claims(room="room-b", role=P, id="pb", name=NAMES["q"], exp=now + 3600))
        cases = {
            "forged (another secret)": tokens.sign(b"x" * 64, good),
            "expired": tokens.sign(secret, msgspec.structs.replace(good, exp=now - 5)),
            "another room's, room edited": edit(other_room, room="room-a"),
            "role raised in the payload": edit(tokens.sign(secret, good), role=F),
            "name edited in the payload": edit(tokens.sign(secret, good), name="Someone Else"),
            "unknown role, signed": tokens.sign(secret, msgspec.structs.replace(good, role="admin")),
            "malformed": "not-a-token",
            "three parts": "a.b.c",
            "empty": "",
            "signature only": "." + tokens.sign(secret, good).split(".")[1],
        }
        await asyncio.sleep(0.5)          # earlier clients' goodbyes reach the record first
        unaudited = []
        self.tokens_used = [t for t in cases.values() if len(t) > 20]
        for what, tok in cases.items():
            rows = await self._refused(what, tok or None, "unauthorized")
            self._audited_hello(what, rows, unaudited, expect_room="room-a" if what == "expired" else None)
        # a token in the URL is not a token
        rows = await self._refused("token in the URL", None, "unauthorized",
                                   url=f"{self.srv.url}/?token={tokens.sign(secret, good)}")
        self._audited_hello("token in the URL", rows, unaudited)
        # the Authorization header is checked like the hello's
        rows = await self._refused("forged bearer header", None, "unauthorized",
                                   headers={"Authorization": "Bearer " + tokens.sign(b"y" * 64, good)})
        self._audited_hello("forged bearer header", rows, unaudited)
        # refusals at the hello happen before any room is known: how are they recorded?
        fig.counts["hello_refusals_unaudited"] = unaudited
        log = self.srv.log_tail(10**7)
        fig.counts["hello_refusal_log_lines"] = len(re.findall(r"unauthori|refused|token", log, re.I))
        cl = SessionClient(self.srv.url, None, additional_headers={"Authorization": "Bearer " + tokens.sign(secret, good)})
        try:
            await cl.connect()
            fig.add("bearer_header_accepted")
        except ClientError as exc:
            fig.fail(f"a valid bearer header was refused: {exc}")
        await cl.close()
        # an old protocol
        from websockets.asyncio.client import connect
        last = self.view().last_id
        async with connect(self.srv.url) as ws:
            await ws.send(msgspec.msgpack.encode({"t": "hello", "token": tokens.sign(secret, good), "protocol": 0}))
            r = msgspec.msgpack.decode(await ws.recv())
            fig.check(r.get("code") == "version", f"an old protocol got {r}")
            fig.add("token_cases")
        await asyncio.sleep(0.05)
        self._audited_hello("an old protocol", self._rows_after(last), unaudited)
        fig.counts["hello_refusals"] = len(cases) + 3

    def _audited_hello(self, what: str, rows: list, unaudited: list, expect_room: str | None = None) -> None:
        """A refused hello leaves one audit row: under the token's room when the token is
        genuine (expired), else under the gateway's own pseudo-room."""
        fig = self.fig
        hello = [r for r in rows if r[3] == "rejected" and r[4] == "hello"]
        if not hello:
            unaudited.append(what)
            fig.fail(f"token {what}: the refused hello left no audit row")
            return
        fig.add("hello_refusals_audited")
        fig.check(len(hello) == 1, f"token {what}: {len(hello)} audit rows")
        room = hello[0][1]
        fig.check(room == expect_room if expect_room else room.startswith("~"),
                  f"token {what}: audited under room {room!r}")

    def _rows_after(self, last_id: int) -> list:
        db = __import__("sqlite3").connect(f"file:{self.srv.db}?mode=ro", uri=True)
        try:
            return db.execute("SELECT id, room, actor, kind, type FROM log WHERE id > ?", (last_id,)).fetchall()
        finally:
            db.close()

    async def _refused(self, what: str, tok, code: str, url: str | None = None, headers=None) -> list:
        """Connects with a bad token; returns the record rows written meanwhile."""
        fig = self.fig
        fig.add("token_cases")
        last = self.view().last_id
        cl = SessionClient(url or self.srv.url, tok, additional_headers=headers)
        try:
            w = await cl.connect()
            fig.fail(f"token {what}: let in as {w.you}")
        except ClientError as exc:
            fig.check(exc.args[0] == code, f"token {what}: refused with {exc.args}, expected {code}")
            await asyncio.wait_for(cl.closed.wait(), 5)
            fig.check(cl.close_code == 1008, f"token {what}: closed with {cl.close_code}, expected 1008")
        finally:
            await cl.close()
        await asyncio.sleep(0.05)
        return self._rows_after(last)

    # --- 5. TLS -------------------------------------------------------------------------------

    async def tls(self) -> None:
        fig = self.fig
        certfile, keyfile = make_certificate(self.wd)
        d = os.path.join(self.wd, "tls")
        os.mkdir(d)
        srv = ServerProcess(d, certfile=certfile, keyfile=keyfile).start()
        try:
            ctx = ssl.create_default_context(cafile=certfile)
            cl = SessionClient(srv.url, srv.token("tls-room", F, "tf", NAMES["f"]), ssl=ctx)
            w = await cl.connect()
            r = await cl.command(c.Configure(title="tls"))
            await cl.sync()
            so = cl.ws.transport.get_extra_info("ssl_object")
            fig.counts["tls_version"] = so.version()
            fig.check(isinstance(r, Ack) and isinstance(w, Welcome) and so.version() in ("TLSv1.2", "TLSv1.3"),
                      f"TLS session failed: {r!r} {so.version()}")
            fig.check(any(isinstance(x.ev, e.RoomConfigured) for x in cl.events), "no event over TLS")
            await cl.close()
            plain = SessionClient(srv.url.replace("wss://", "ws://"), srv.token("tls-room", F, "tf", "x"))
            try:
                await plain.connect(timeout=5)
                fig.fail("a plain websocket was served on the TLS port")
            except Exception:          # noqa: BLE001 - any failure to connect is right
                fig.add("tls_plain_refused")
            untrusting = SessionClient(srv.url, srv.token("tls-room", F, "tf", "x"), ssl=ssl.create_default_context())
            try:
                await untrusting.connect(timeout=5)
                fig.fail("a client that does not trust the certificate connected")
            except ssl.SSLError:
                fig.add("tls_untrusted_refused")
            except Exception as exc:   # noqa: BLE001
                fig.add("tls_untrusted_refused") if "CERTIFICATE" in str(exc).upper() else fig.fail(
                    f"unexpected failure for an untrusting client: {exc!r}")
        finally:
            srv.stop()

    # --- 6. files -----------------------------------------------------------------------------

    async def files(self) -> None:
        fig = self.fig
        d = os.path.join(self.wd, "umask0")
        os.mkdir(d)
        srv = ServerProcess(d, umask=0).start()
        try:
            cl = SessionClient(srv.url, srv.token("files", F, "ff", NAMES["f"]))
            await cl.connect()
            await cl.command(c.Configure(title="files"))
            await cl.close()
            for path in (srv.db, srv.db + "-wal", srv.db + "-shm", srv.secret_file):
                if os.path.exists(path):
                    mode = stat.S_IMODE(os.stat(path).st_mode)
                    fig.add("files_checked")
                    fig.check(mode == 0o600, f"{os.path.basename(path)} was created {oct(mode)}, not 0600")
        finally:
            srv.stop()
        out = os.path.join(d, "export.jsonl")
        csv = os.path.join(d, "attendance.csv")
        for fmt, path in (("jsonl", out), ("attendance-csv", csv)):
            p = subprocess.run([sys.executable, "-m", "server.cli", "export", "--db", srv.db, "--room", "files",
                                "--format", fmt, "--out", path], capture_output=True, text=True,
                               preexec_fn=lambda: os.umask(0), timeout=60)
            fig.check(p.returncode == 0, f"export {fmt} failed: {p.stderr.strip()}")
            if os.path.exists(path):
                mode = stat.S_IMODE(os.stat(path).st_mode)
                fig.add("files_checked")
                fig.check(mode == 0o600, f"the {fmt} export was created {oct(mode)}, not 0600")
