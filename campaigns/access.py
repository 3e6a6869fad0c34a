"""Access campaign: nobody does or sees what their role does not allow.

Against a real `session-server serve` (its log captured):
  * matrix: every command from every role, compared with the table in
    SCENARIOS.md (commands the table does not list: `server.engine.permissions`);
    every refusal must carry the right code and be in the record as an
    audit row (kind 'rejected', the actor, the command, the code);
  * another room: a facilitator and a participant of room B act on room A's
    people, polls and timers; room A's record and streams must not change;
  * tokens: forged, expired, another room's (payload edited), role raised,
    malformed, missing, carried in the URL, a wrong protocol version: all
    refused at the hello with `unauthorized` (or `version`) and close 1008;
  * removal: a removed participant cannot come back (resume or not);
  * TLS end to end with a certificate made here; plain websockets refused;
  * files: record, WAL, secret and export created 0600 even under umask 000;
  * logs: no display name, chat text, note, reason or location in the log.
In-process, every scenario of tests/scenarios/ is played with the scenario
runner and every participant's frames are inspected for leaks (notes, flags,
locations, alerts, the waiting room, others' attendance, answers and help
calls, anonymous seals, staff-only events, snapshots wider than their view).
"""
from __future__ import annotations

import asyncio
import datetime
import glob
import ipaddress
import json
import logging
import os
import re
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
import time

import msgspec

from campaigns.common import Figures, ServerProcess, scenario_paths, workdir
from campaigns.recordview import RecordView
from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack, Error, EventFrame, Welcome
from protocol.state import ParticipantView
from server import tokens
from server.client import ClientError, SessionClient
from server.engine import permissions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F, C, O, P = "facilitator", "cofacilitator", "observer", "participant"
ROLES = (F, C, O, P)
LEAD = {F, C}

# The role table of SCENARIOS.md, written down here independently of the code (tests/test_gateway.py
# holds the server to it as well).
SPEC = {
    "open": LEAD, "close": {F}, "accept_agreement": {P}, "check_in": {P}, "admit": LEAD, "deny": LEAD,
    "remove": LEAD, "excuse": LEAD, "leave": {F, C, O, P}, "raise_hand": {P}, "lower_hand": {P, F, C},
    "next_speaker": LEAD, "call_on": LEAD, "end_turn": {F, C, P}, "move_in_queue": LEAD,
    "queue_mode": LEAD, "go_around": LEAD, "pass": {P}, "breakouts_plan": LEAD, "breakouts_move": LEAD,
    "breakouts_open": LEAD, "breakouts_broadcast": LEAD, "breakouts_close": LEAD, "help_request": {P},
    "breakouts_rule": LEAD,     # a project addition (issue 14): rules set from the console
    "poll_create": LEAD, "poll_open": LEAD, "poll_close": LEAD, "poll_share": LEAD, "vote": {P},
    "timer_start": LEAD, "timer_pause": LEAD, "timer_resume": LEAD, "timer_cancel": LEAD,
    "timer_extend": LEAD, "agenda_next": LEAD, "chat": {F, C, P}, "note": LEAD, "flag": LEAD,
    "go_around_stop": LEAD, "agenda_goto": LEAD, "flag_clear": LEAD,
    # project additions, as docs/protocol.md's command table gives them
    "configure": {F}, "listen_in": LEAD, "help_ack": LEAD,
    # voice: everyone joins and leaves it; only the leads hold a mute or the floor
    "voice_join": {F, C, O, P}, "voice_leave": {F, C, O, P}, "mute": LEAD, "unmute": LEAD, "hold_floor": LEAD,
    # the satisfaction survey: the leads ask and close it, participants answer
    "survey_open": LEAD, "survey_close": LEAD, "survey_answer": {P},
}

# Distinctive words, so that finding one in a log cannot be a coincidence.
NAMES = {"f": "Zephyrine Quillfeather", "c": "Bartholomew Ostrander", "o": "Philippa Wrenhaven",
         "p": "Isidora Blackwood", "q": "Cornelius Ashgrove", "victim": "Evangeline Thistlewood"}
SECRET_TEXTS = ["NOTE-ultramarine-kestrel", "CHAT-saffron-heron", "LOCATION-42 Juniper Terrace",
                "REASON-vermilion-otter", "HELP-cerulean-lynx", "FLAG-ochre-falcon", "SURVEY-indigo-marten"]


def sample(name: str, who: str) -> c.Command:
    """A well-formed instance of each command."""
    args = {
        "configure": dict(title="again"), "check_in": dict(location=SECRET_TEXTS[2]),
        "admit": dict(target="victim"), "deny": dict(target="victim"),
        "remove": dict(target="victim", reason=SECRET_TEXTS[3]), "excuse": dict(target="victim", reason="ill"),
        "lower_hand": dict(target="p1") if who != P else {}, "call_on": dict(target="p1"),
        "move_in_queue": dict(target="p1", position=1), "queue_mode": dict(mode="fair"),
        "go_around": dict(seconds=60), "breakouts_plan": dict(rooms=1), "breakouts_move": dict(target="p1", room=1),
        "breakouts_open": dict(minutes=5), "breakouts_broadcast": dict(text="pods: two minutes"),
        "listen_in": dict(room=0), "breakouts_rule": dict(kind="apart", target="p1", other="victim"),
        "help_request": dict(text=SECRET_TEXTS[4]), "help_ack": dict(help_id=1),
        "poll_create": dict(id=f"poll-{who}", question="Mood?", kind="scale"),
        "poll_open": dict(id="poll-main"), "poll_close": dict(id="poll-main"), "poll_share": dict(id="poll-main"),
        "vote": dict(id="poll-main", value=5), "timer_start": dict(id=f"t-{who}", seconds=60),
        "timer_pause": dict(id="t-main"), "timer_resume": dict(id="t-main"), "timer_cancel": dict(id="t-main"),
        "timer_extend": dict(id="t-main", seconds=30), "chat": dict(text=SECRET_TEXTS[1]),
        "note": dict(target="p1", text=SECRET_TEXTS[0]), "flag": dict(target="p1", level="watch", reason=SECRET_TEXTS[5]),
        "agenda_goto": dict(index=0), "flag_clear": dict(target="p1"),
        "mute": dict(target="p1"), "unmute": dict(target="p1"), "hold_floor": dict(on=True),
        "voice_activity": dict(person="p1", talking=True),      # the media server's own: nobody's here
        "survey_answer": dict(ratings=[3, 4, 5], comment=SECRET_TEXTS[6]),
    }.get(name, {})
    return c.COMMAND_TYPES[name](**args)


def order(names: list[str]) -> list[str]:
    last = ["remove", "deny", "close", "leave"]
    return [n for n in names if n not in last] + [n for n in last if n in names]


class Access:
    def __init__(self, fig: Figures, quick: bool):
        self.fig, self.quick = fig, quick
        self.wd = workdir("access")
        self.srv: ServerProcess | None = None

    # --- helpers ---------------------------------------------------------------------

    def view(self) -> RecordView:
        v = RecordView(self.srv.db)
        v.refresh()
        return v

    async def room(self, room: str, people: list[tuple[str, str]], auto: bool = True) -> SessionClient:
        f = SessionClient(self.srv.url, self.srv.token(room, F, "boss", NAMES["f"]), name="boss")
        await f.connect()
        roster = [c.RosterEntry(id=pid, name=name) for pid, name in people]
        r = await f.command(c.Configure(title="access", auto_admit=auto, roster=roster))
        assert isinstance(r, Ack), r
        r = await f.command(c.Open())
        assert isinstance(r, Ack), r
        await f.command(c.PollCreate(id="poll-main", question="Mood?", kind="scale"))
        await f.command(c.PollOpen(id="poll-main"))
        await f.command(c.TimerStart(id="t-main", seconds=600))
        return f

    def audit_row(self, v: RecordView, room: str, actor: str, cid: str, name: str, code: str) -> bool:
        rows = v.by_cmd.get((room, actor, cid))
        if not rows or len(rows) != 1 or rows[0][1] != "rejected":
            return False
        db = __import__("sqlite3").connect(f"file:{self.srv.db}?mode=ro", uri=True)
        try:
            typ, body = db.execute("SELECT type, body FROM log WHERE id=?", (rows[0][0],)).fetchone()
        finally:
            db.close()
        return typ == name and msgspec.msgpack.decode(body).get("code") == code

    # --- 1. every command from every role ------------------------------------------------

    async def matrix(self) -> None:
        fig = self.fig
        names = sorted(c.COMMAND_TYPES)
        fig.check(set(permissions.MATRIX) == set(SPEC),
                  f"commands in only one of the code's matrix and the documented one: "
                  f"{sorted(set(permissions.MATRIX) ^ set(SPEC))}")
        for name in SPEC:       # the code's matrix agrees with the documented one
            fig.check(set(permissions.MATRIX.get(name, ())) == SPEC[name],
                      f"permissions.MATRIX[{name!r}] = {sorted(permissions.MATRIX.get(name, ()))}, "
                      f"SCENARIOS.md says {sorted(SPEC[name])}")
        for role in ROLES:
            room = f"matrix-{role}"
            me = "p1" if role == P else f"{role[:3]}1"
            boss = await self.room(room, [("p1", NAMES["p"]), ("victim", NAMES["victim"])])
            cl = SessionClient(self.srv.url, self.srv.token(room, role, me, NAMES["p" if role == P else role[0]]),
                               name=me)
            await cl.connect()
            results = {}
            for i, name in enumerate(order(names)):
                if i and i % 30 == 0:
                    # more commands than the rate limit's burst (40): let it refill, this is
                    # a matrix of permissions, not a flood (the slow campaign floods)
                    await asyncio.sleep(1.0)
                if cl.closed.is_set():
                    await cl.connect(resume=cl.last_seq)
                cid = f"{me}-{name}"
                try:
                    results[name] = (cid, await cl.command(sample(name, role), cid=cid))
                except ClientError as exc:
                    fig.fail(f"{role} {name}: connection lost: {exc}")
            await asyncio.sleep(0.2)
            v = self.view()
            for name, (cid, r) in results.items():
                allowed = role in SPEC.get(name, permissions.MATRIX.get(name, ()))
                fig.add("matrix_pairs")
                if name == "end_turn" and role == P:
                    allowed = False       # only the speaker may; p1 is not speaking
                if not allowed:
                    fig.add("matrix_refusals")
                    if fig.check(isinstance(r, Error) and r.code == "forbidden",
                                 f"{role} {name}: expected forbidden, got {r!r}"):
                        fig.check(self.audit_row(v, room, me, cid, name, "forbidden"),
                                  f"{role} {name}: refused without an audit row")
                        fig.add("matrix_audited")
                else:
                    fig.check(not (isinstance(r, Error) and r.code == "forbidden"),
                              f"{role} {name}: allowed by the table, refused: {r!r}")
                    if isinstance(r, Error) and r.code not in ("rate_limited",):
                        fig.check(self.audit_row(v, room, me, cid, name, r.code),
                                  f"{role} {name}: refused ({r.code}) without an audit row")
            await cl.close()
            await boss.close()

    # --- 2. another room's people --------------------------------------------------------

    async def other_room(self) -> None:
        fig = self.fig
        fa = await self.room("room-a", [("pa", NAMES["p"])])
        pa = SessionClient(self.srv.url, self.srv.token("room-a", P, "pa", NAMES["p"]), name="pa")
        await pa.connect()
        await fa.sync()
        fb = SessionClient(self.srv.url, self.srv.token("room-b", F, "fb", NAMES["c"]), name="fb")
        await fb.connect()
        await fb.command(c.Configure(title="b", auto_admit=True, roster=[c.RosterEntry(id="pb", name=NAMES["q"])]))
        await fb.command(c.Open())
        pb = SessionClient(self.srv.url, self.srv.token("room-b", P, "pb", NAMES["q"]), name="pb")
        await pb.connect()
        await asyncio.sleep(0.1)
        await fa.sync(), await pa.sync()
        marks = len(fa.events), len(pa.events)
        before = self.view()
        a_rows = sum(1 for (room, _s) in before.events if room == "room-a")
        tries = [(fb, c.Remove(target="pa", reason="x")), (fb, c.Note(target="pa", text=SECRET_TEXTS[0])),
                 (fb, c.Admit(target="pa")), (fb, c.Flag(target="pa", level="urgent")),
                 (fb, c.Chat(text="hi", to="pa")), (fb, c.PollClose(id="poll-main")),
                 (fb, c.TimerCancel(id="t-main")), (fb, c.CallOn(target="pa")),
                 (pb, c.Vote(id="poll-main", value=3)), (pb, c.LowerHand(target="pa"))]
        for cl, cmd in tries:
            r = await cl.command(cmd)
            fig.add("other_room_tries")
            fig.check(isinstance(r, Error) and r.code in ("not_found", "forbidden"),
                      f"{cl.name} {type(cmd).__name__} on room A's people: {r!r}")
        await asyncio.sleep(0.1)
        await fa.sync(), await pa.sync()
        after = self.view()
        fig.check(sum(1 for (room, _s) in after.events if room == "room-a") == a_rows,
                  "room B's commands changed room A's record")
        fig.check((len(fa.events), len(pa.events)) == marks, "room A's people received something from room B")
        audited = sum(1 for (room, actor, _cid) in after.by_cmd if room == "room-b" and actor in ("fb", "pb")
                      and any(k == "rejected" for _, k, _ in after.by_cmd[(room, actor, _cid)]))
        fig.check(audited == len(tries), f"{audited} of {len(tries)} cross-room refusals are in room B's audit rows")
        for cl in (fa, pa, fb, pb):
            await cl.close()

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

    # --- 4. after removal -------------------------------------------------------------------

    async def removal(self) -> None:
        fig = self.fig
        f = await self.room("room-r", [("px", NAMES["q"])])
        px = SessionClient(self.srv.url, self.srv.token("room-r", P, "px", NAMES["q"]), name="px")
        await px.connect()
        await px.command(c.RaiseHand())
        r = await f.command(c.Remove(target="px", reason=SECRET_TEXTS[3]))
        fig.check(isinstance(r, Ack), f"remove refused: {r!r}")
        await asyncio.wait_for(px.closed.wait(), 5)
        fig.check(px.close_code == 1000, f"a removed participant's connection closed with {px.close_code}")
        before = self.view()
        for resume in (px.last_seq, None):
            back = SessionClient(self.srv.url, self.srv.token("room-r", P, "px", NAMES["q"]), name="px-back")
            try:
                await back.connect(resume=resume)
                fig.fail(f"a removed participant came back (resume={resume})")
            except ClientError as exc:
                fig.add("removed_refusals")
                fig.check(exc.args[0] == "forbidden", f"a removed participant was refused with {exc.args}")
            finally:
                await back.close()
        await asyncio.sleep(0.1)
        db = __import__("sqlite3").connect(f"file:{self.srv.db}?mode=ro", uri=True)
        n = db.execute("SELECT count(*) FROM log WHERE room='room-r' AND kind='rejected' AND actor='px' "
                       "AND type='join' AND id > ?", (before.last_id,)).fetchone()[0]
        db.close()
        fig.check(n == 2, f"{n} of 2 refused returns of a removed participant are audited")
        await f.close()

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

    # --- 7. logs ------------------------------------------------------------------------------

    def logs(self, text: str, secrets_: list[str], where: str) -> None:
        fig = self.fig
        fig.counts[f"log_lines_{where}"] = text.count("\n")
        for s in secrets_:
            if len(s) < 3:
                continue
            fig.add("log_secret_checks")
            if re.search(r"(?<!\w)" + re.escape(s) + r"(?!\w)", text):
                line = next((ln for ln in text.splitlines() if s in ln), "")
                fig.fail(f"the {where} log contains {s!r}: {line[:200]!r}", f"log_leak_{where}")

    async def run(self) -> None:
        self.srv = ServerProcess(self.wd).start()
        try:
            await self.matrix()
            await self.other_room()
            await self.bad_tokens()
            await self.removal()
        finally:
            self.srv.stop()
        await self.tls()
        await self.files()
        logs = ""
        for path in glob.glob(os.path.join(self.wd, "**", "server.log"), recursive=True):
            with open(path, errors="replace") as f:
                logs += f.read()
        self.logs(logs, list(NAMES.values()) + SECRET_TEXTS, "serve")
        for tok in getattr(self, "tokens_used", []):       # tokens, even refused ones, stay out of logs
            self.fig.add("log_secret_checks")
            if any(part in logs for part in tok.split(".") if len(part) >= 16):
                self.fig.fail("the serve log contains a token", "log_leak_token")


# --- the leak check over every scenario (in-process, with the scenario runner) -------------

# staff_entered and staff_left go to everyone since issue 14.2 (docs/protocol.md: participants
# see who is in the room with them, observers too), so they are not in this list
STAFF_ONLY = (e.NoteAdded, e.Flagged, e.LocationCheckedIn, e.CheckInAlert, e.DropOverdue, e.Excused,
              e.BallotCast, e.RoomConfigured, e.PollCreated, e.BreakoutsPlanned,
              e.ListenedIn, e.BreakoutRuleChanged, e.FlagCleared)
ABOUT_ONE = (e.ParticipantWaiting, e.WaitingLeft, e.AgreementAccepted, e.Denied, e.VoteCast, e.HelpRequested)


def sensitive_texts(sc) -> list[tuple[str, str | None]]:
    """(text, the one participant allowed to see it, if any) from a scenario's steps."""
    out = []
    for st in sc.steps:
        a = st.args
        if st.do == "note":
            out.append((a.get("text", ""), None))
        elif st.do == "flag":
            out.append((a.get("reason", ""), None))
        elif st.do == "check_in":
            out.append((a.get("location", ""), None))
        elif st.do in ("remove", "excuse"):
            out.append((a.get("reason", ""), None))
        elif st.do == "help_request":
            out.append((a.get("text", ""), st.who))
        elif st.do == "chat" and a.get("to", "all") == "facilitators":
            out.append((a.get("text", ""), st.who))
        elif st.do == "chat" and a.get("to", "all") not in ("all", "facilitators"):
            out.append((a.get("text", ""), a["to"]))
    return [(t, who) for t, who in out if t and len(t) >= 6]


async def leak_check(fig: Figures, paths: list[str], log_text: list[str]) -> None:
    from server.scenarios import runner as runner_mod
    from server.scenarios.script import load

    frames_by: dict[str, list] = {}

    class RecordingPlayer(runner_mod.Player):
        def _frame(self, frame) -> None:
            frames_by.setdefault(self.person.id, []).append(frame)
            super()._frame(frame)

    original = runner_mod.Player
    runner_mod.Player = RecordingPlayer
    try:
        for path in paths:
            frames_by.clear()
            sc = load(path)
            d = tempfile.mkdtemp(prefix="campaign-leak-")
            db = os.path.join(d, "record.db")
            r = runner_mod.Runner(sc, db)
            res = await r.run()
            fig.add("scenarios_played")
            if not res.passed:
                fig.add("scenarios_failing_their_own_expectations")
            secrets_ = sensitive_texts(sc)
            for pid, pl in r.players.items():
                if pl.person.role != "participant":
                    continue
                view = RecordView(db)        # a fold of its own: welcomes come in seq order
                view.refresh()
                fig.add("participant_streams")
                for fr in frames_by.get(pid, []):
                    inspect_frame(fig, sc, pid, fr, view, secrets_)
            log_text.extend(t for t, _ in secrets_)
            log_text.extend(p.name for p in sc.people.values())
            log_text.extend(st.args.get("text", "") for st in sc.steps if st.do == "chat")
            shutil.rmtree(d, ignore_errors=True)
    finally:
        runner_mod.Player = original


def inspect_frame(fig: Figures, sc, me: str, fr, view: RecordView, secrets_) -> None:
    where = f"{os.path.basename(sc.path)}: {me}"
    fig.add("participant_frames")
    text = msgspec.json.encode(fr).decode()
    for s, allowed in secrets_:
        if allowed != me and s in text:
            fig.fail(f"{where} received {s!r} in a {type(fr).__name__}", "leak_text")
    if isinstance(fr, Welcome):
        if fr.state is None:
            return
        if not fig.check(isinstance(fr.state, ParticipantView), f"{where} got a staff snapshot"):
            return
        v: ParticipantView = fr.state
        try:
            fold = view.fold_to(sc.room, fr.seq)      # welcomes come in seq order per participant
        except (KeyError, ValueError):
            fold = None                               # an earlier participant's fold went past it
        if fold is not None:
            here = {m.id for m in fold.members.values() if m.status == "present"}
            extra = {p.id for p in v.present} - here
            fig.check(not extra, f"{where}'s snapshot lists {sorted(extra)} as present, who are not")
            fig.add("snapshots_checked_against_the_record")
        for pv in v.polls:
            p = fold.polls.get(pv.id) if fold is not None else None
            if p is not None:
                fig.check(pv.results is None or p.shared, f"{where}'s snapshot shows unshared results of {pv.id}")
        for line in v.chat:
            fig.check(line.to in ("all", me) or line.by == me, f"{where}'s snapshot has chat to {line.to}")
        for h in v.my_help:
            fig.check(h.person == me, f"{where}'s snapshot has {h.person}'s help call")
        return
    if not isinstance(fr, EventFrame):
        return
    ev, aud = fr.ev, fr.aud
    fig.add("participant_events")
    ok_aud = aud == "all" or aud == f"p:{me}" or aud.startswith("b:")
    fig.check(ok_aud, f"{where} received a {type(ev).__name__} addressed to {aud}")
    if isinstance(ev, STAFF_ONLY):
        fig.fail(f"{where} received {type(ev).__name__} (staff only)", "leak_staff_event")
    if isinstance(ev, ABOUT_ONE) and ev.person != me:
        fig.fail(f"{where} received {type(ev).__name__} about {ev.person}", "leak_about_other")
    if isinstance(ev, e.Removed) and ev.reason:
        fig.fail(f"{where} received the reason for removing {ev.person}", "leak_reason")
    if isinstance(ev, e.ChatPosted):
        fig.check(ev.to == "all" or ev.to == me or ev.by == me, f"{where} received chat to {ev.to}")
    if aud == "all" or aud.startswith("b:"):
        # judged at the time, by a fold of the record of its own: where was this
        # participant just before the event (issue 12: rounds, late joiners)?
        try:
            before = view.fold_to(sc.room, fr.seq - 1)
        except (KeyError, ValueError):
            before = None            # this stream went past it already (a fresh welcome)
        if before is not None:
            m = before.members.get(me)
            inside = m is not None and m.status in ("present", "dropped")
            if not inside:
                fig.fail(f"{where} received {type(ev).__name__} (seq {fr.seq}) from a time they were not in the room",
                         "leak_outside_their_time")
            elif aud.startswith("b:"):
                room = getattr(ev, "room", None)
                here = (before.breakouts == "open" and m.breakout is not None
                        and getattr(ev, "round", before.round) in (0, before.round)
                        and (room is None or room == m.breakout))
                if not here:
                    fig.fail(f"{where} received {type(ev).__name__} of round {getattr(ev, 'round', '?')} room "
                             f"{room} while in room {m.breakout}", "leak_other_round")


def make_certificate(d: str) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost: `cryptography`, else the openssl CLI."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
        os.chmod(key, 0o600)
        return cert, key
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    crt = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
           .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
           .not_valid_after(now + datetime.timedelta(days=1))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
           .sign(k, hashes.SHA256()))
    fd = os.open(key, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    with open(cert, "wb") as f:
        f.write(crt.public_bytes(serialization.Encoding.PEM))
    return cert, key


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
        except Exception:   # noqa: BLE001
            pass


async def campaign(fig: Figures, quick: bool) -> None:
    a = Access(fig, quick)
    try:
        await a.run()
        paths = scenario_paths()
        if quick:
            wanted = ("private_flag_and_help", "chat_audiences", "polls_named_and_anonymous", "waiting_room_capacity",
                      "breakout_rounds")
            paths = [p for p in paths if any(w in p for w in wanted)] or paths[:4]
        # the log as `serve` configures it (INFO), plus everything the server's own loggers say at DEBUG
        cap = _Capture()
        cap.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        srv_log = logging.getLogger("session_server")
        old = root.level, srv_log.level
        root.addHandler(cap)
        root.setLevel(logging.INFO)
        srv_log.setLevel(logging.DEBUG)
        secrets_: list[str] = []
        try:
            await leak_check(fig, paths, secrets_)
        finally:
            root.removeHandler(cap)
            root.setLevel(old[0])
            srv_log.setLevel(old[1])
        a.logs("\n".join(cap.lines), sorted(set(s for s in secrets_ if s)), "scenarios")
    finally:
        if not fig.failures:
            shutil.rmtree(a.wd, ignore_errors=True)
        else:
            fig.counts["workdir"] = a.wd


def run(args) -> int:
    fig = Figures("access", args.seed, args.quick)
    asyncio.run(campaign(fig, args.quick))
    return fig.emit()


def add_arguments(p) -> None:
    pass
