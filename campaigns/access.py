"""Access campaign: nobody does or sees what their role does not allow.

Against a real `session-server serve` (its log captured):
  * matrix: every command from every role, compared with the table in
    SCENARIOS.md (campaigns/access_table.py; a command it does not list is no role's);
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
The tokens, TLS and files are campaigns/access_edges.py; the leak check is
campaigns/leaks.py. In-process, every scenario of tests/scenarios/ is played with the scenario
runner and every participant's frames are inspected for leaks (notes, flags,
locations, alerts, the waiting room, others' attendance, answers and help
calls, anonymous seals, staff-only events, snapshots wider than their view).
"""
from __future__ import annotations

import asyncio
import glob
import logging
import os
import re
import shutil

import msgspec

from campaigns.access_edges import Edges
# what tests and other campaigns import from here: the independent table, the leak check, the certificate
from campaigns.access_table import F, NAMES, P, ROLES, SECRET_TEXTS, SPEC, order, sample  # noqa: F401
from campaigns.certificates import make_certificate  # noqa: F401
from campaigns.common import Figures, ServerProcess, scenario_paths, workdir
from campaigns.leaks import inspect_frame, leak_check  # noqa: F401
from campaigns.recordview import RecordView
from protocol import commands as c
from protocol.frames import Ack, Error
from server.client import ClientError, SessionClient
from server.engine import permissions


class Access(Edges):
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
                allowed = role in SPEC.get(name, ())      # the table's word, not the code's
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
