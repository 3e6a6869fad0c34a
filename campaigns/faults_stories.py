"""The faults campaign's other stories, against a real `serve` on loopback.

`python -m campaigns faults` runs these beside disk_full, second_writer and
stop_while_full (campaigns/faults.py):
  * `restart_attendance`, `clock_steps`, `rooms_memory`: campaigns/faults_attendance.py
    (10,000 rooms in the full run, RSS flat after the warm-up);
  * `bad_files`: campaigns/faults_files.py (each bad record, folder, mount and
    a secret others can read refused in one line, exit 2, nothing changed);
  * `breakout_rounds`: round 1's room 2 talks, broadcasts and asks for help;
    in round 2 other people sit in room 2. Neither a reload (fresh welcome)
    nor a resume from before round 1 may bring them round 1's room 2, and
    round 1's people get back their own room of the time;
  * `http_edge`: a repeated Host, Origin, Upgrade, If-None-Match or
    Authorization header gets 400, an audit row, and no traceback; an Origin
    with the right host but the wrong scheme is refused (403);
  * `stop_while_locked`: SIGTERM within 5 s while another process holds
    SQLite's write lock on the record (stop_while_full does it for a full disk).
The first four are plain functions (they run their own event loops); each puts its figures under the story's name in the campaign's line.
"""
from __future__ import annotations

import asyncio
import socket
import sqlite3
import time

import msgspec

from campaigns.common import HOST, Figures, ServerProcess, make_secret
from campaigns.traffic import Tracker
from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack
from server.client import SessionClient

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


# --- a small live group --------------------------------------------------------------

class Room:
    def __init__(self, srv: ServerProcess, room: str):
        self.srv, self.room = srv, room
        self.clients: dict[str, SessionClient] = {}
        self.trackers: dict[str, Tracker] = {}

    def client(self, pid: str, role: str = "participant") -> SessionClient:
        t = self.trackers[pid] = Tracker(pid, role)
        cl = SessionClient(self.srv.url, self.srv.token(self.room, role, pid, pid.upper()), name=pid,
                           on_frame=t.on_frame)
        self.clients[pid] = cl
        return cl

    async def start(self, participants=("p1", "p2", "p3")) -> SessionClient:
        f = self.client("f1", "facilitator")
        await f.connect()
        roster = [c.RosterEntry(id=p, name=p.upper()) for p in participants]
        for cmd in (c.Configure(title="Faults", roster=roster), c.Open()):
            r = await f.command(cmd)
            if not isinstance(r, Ack):
                raise RuntimeError(f"setting up {self.room}: {r}")
        for p in participants:
            cl = self.client(p)
            await cl.connect()
            r = await f.command(c.Admit(target=p))
            if not isinstance(r, Ack):
                raise RuntimeError(f"admitting {p}: {r}")
            await cl.sync()
        return f

    async def close(self) -> None:
        for cl in self.clients.values():
            try:
                await cl.close()
            except Exception:   # noqa: BLE001 - tearing down
                pass


def _merge(fig: Figures, name: str, figures: dict, failures: list[str]) -> None:
    figures = {k: v for k, v in figures.items() if k != "samples"}   # one line, not a curve
    fig.counts[name] = figures
    for f in failures:
        fig.fail(f"{name}: {f}")


# --- the stories of the other modules, told the campaign's way -------------------------------

def restart_attendance(fig: Figures, wd: str, quick: bool) -> None:
    from campaigns.faults_attendance import restart_attendance as story
    out = story(quick=quick)
    _merge(fig, "restart_attendance", out["figures"], out["failures"])
    fig.check(set(out["figures"]) == {"graceful", "crash"}, "restart_attendance: a round was not told")


def clock_steps(fig: Figures, wd: str, quick: bool) -> None:
    from campaigns.faults_attendance import clock_steps as story
    out = story(quick=quick)
    _merge(fig, "clock_steps", out["figures"], out["failures"])
    fig.check(set(out["figures"]) == {"forward", "backward"}, "clock_steps: a step was not told")


def rooms_memory(fig: Figures, wd: str, quick: bool) -> None:
    from campaigns.faults_attendance import rooms_memory as story
    out = story(quick=quick)
    _merge(fig, "rooms_memory", out["figures"], out["failures"])


def bad_files(fig: Figures, wd: str, quick: bool) -> None:
    from campaigns.faults_files import bad_files as story
    figures, failures = story(workdir=wd, quick=quick)
    _merge(fig, "bad_files", figures, failures)
    fig.check(figures.get("file_refusals_one_line", 0) > 0, "bad_files: nothing was refused")


# --- breakout rounds ---------------------------------------------------------------------------

R1_ROOM2 = "round one, room two: my brother relapsed"
R1_ROOM1 = "round one, room one: hello"
R2_ROOM2 = "round two, room two: hi again"


async def _ok(fig: Figures, cl, cmd) -> None:
    r = await cl.command(cmd)
    if not isinstance(r, Ack):
        raise RuntimeError(f"{type(cmd).__name__} refused: {r}")


async def _arrange(fig: Figures, f, rooms: list[list[str]]) -> None:
    await _ok(fig, f, c.BreakoutsPlan(rooms=len(rooms), seed=1))
    for i, room in enumerate(rooms, start=1):
        for pid in room:
            await _ok(fig, f, c.BreakoutsMove(target=pid, room=i))
    await _ok(fig, f, c.BreakoutsOpen(minutes=10))


def _said(events) -> list[str]:
    return [x.ev.text for x in events if isinstance(x.ev, e.ChatPosted)]


async def breakout_rounds(fig: Figures, wd: str, quick: bool) -> None:
    srv = ServerProcess(wd)
    make_secret(srv.secret_file)
    srv.start()
    group = Room(srv, "rounds")
    counts = {"reloads": 0, "resumes": 0, "leaks": 0, "own_room_kept": 0}
    fig.counts["breakout_rounds"] = counts

    def leak(ok: bool, what: str) -> None:
        if not fig.check(ok, f"breakout_rounds: {what}"):
            counts["leaks"] += 1

    try:
        f = await group.start(participants=("p1", "p2", "p3", "p4"))
        p = group.clients
        before = p["p1"].last_seq
        await _arrange(fig, f, [["p1", "p2"], ["p3", "p4"]])            # round 1
        await _ok(fig, p["p3"], c.Chat(text=R1_ROOM2))
        await _ok(fig, p["p2"], c.Chat(text=R1_ROOM1))
        await _ok(fig, f, c.BreakoutsBroadcast(text="round one broadcast"))
        await _ok(fig, p["p3"], c.HelpRequest(text="round one help"))
        await _ok(fig, f, c.BreakoutsClose())
        await _arrange(fig, f, [["p3", "p4"], ["p1", "p2"]])            # round 2: p1, p2 in room 2
        await _ok(fig, p["p2"], c.Chat(text=R2_ROOM2))
        await _ok(fig, f, c.BreakoutsBroadcast(text="round two broadcast"))
        for cl in p.values():
            await cl.sync()
        leak(R1_ROOM2 not in _said(p["p1"].events), "live: round 1 room 2's chat reached p1")
        for pid in ("p1", "p2"):                  # round 2's room 2: a reload
            cl = group.client(pid)
            w = await cl.connect()
            counts["reloads"] += 1
            texts = [line.text for line in w.state.chat]
            leak(R1_ROOM2 not in texts, f"reload: {pid} in round 2 room 2 got round 1 room 2's chat")
            leak(not w.state.my_help, f"reload: {pid} got round 1 room 2's help")
            leak(R1_ROOM1 in texts and R2_ROOM2 in texts, f"reload: {pid} lost the chat of their own rooms")
            counts["own_room_kept"] += 1
        for pid in ("p1", "p2"):                  # and a resume from before round 1
            cl = group.client(pid)
            await cl.connect(resume=before)
            await cl.sync()
            counts["resumes"] += 1
            texts = _said(cl.events)
            leak(R1_ROOM2 not in texts, f"resume: {pid} in round 2 room 2 got round 1 room 2's chat")
            leak(not any(isinstance(x.ev, e.HelpRequested) for x in cl.events),
                 f"resume: {pid} got round 1 room 2's help")
            got = [x.ev.text for x in cl.events if isinstance(x.ev, e.BreakoutsBroadcast)]
            leak(got == ["round one broadcast", "round two broadcast"], f"resume: {pid} broadcasts {got}")
            leak(R1_ROOM1 in texts and R2_ROOM2 in texts, f"resume: {pid} lost the chat of their own rooms")
        cl = group.client("p3")                   # round 1's room 2 keeps its own, on both paths
        w = await cl.connect()
        t3 = [line.text for line in w.state.chat]
        leak(R1_ROOM2 in t3 and R2_ROOM2 not in t3, f"reload: p3 chat {t3}")
        leak([h.round for h in w.state.my_help] == [1], "reload: p3 lost their round 1 help")
        cl = group.client("p3")
        await cl.connect(resume=before)
        await cl.sync()
        t3 = _said(cl.events)
        leak(R1_ROOM2 in t3 and R2_ROOM2 not in t3, f"resume: p3 chat {t3}")
        counts["reloads"] += 1
        counts["resumes"] += 1
    finally:
        await group.close()
        srv.stop()


# --- the HTTP edge -----------------------------------------------------------------------------

def _raw(port: int, request: str, timeout: float = 5.0) -> str:
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def _head(port: int, path: str, *lines: str, upgrade: bool = False) -> str:
    head = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    if upgrade:
        head += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {KEY}",
                 "Sec-WebSocket-Version: 13"]
    return _raw(port, "\r\n".join(head + list(lines)) + "\r\n\r\n")


def _refusals(db: str) -> list[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [msgspec.msgpack.decode(b)["message"] for (b,) in con.execute(
            "SELECT body FROM log WHERE room = '~gateway' AND kind = 'rejected' AND type = 'hello'")]
    finally:
        con.close()


async def http_edge(fig: Figures, wd: str, quick: bool) -> None:
    srv = ServerProcess(wd)
    make_secret(srv.secret_file)
    srv.start()
    counts = {"repeated_header_requests": 0, "answered_400": 0, "audited": 0, "origin_scheme_refused": 0}
    fig.counts["http_edge"] = counts
    token = srv.token("r1", "facilitator", "f1", "Dana")
    try:
        port, hp = srv.port, f"{HOST}:{srv.port}"
        bearer = "Authorization: Bearer " + token
        cases = [("Host", lambda: _raw(port, f"GET / HTTP/1.1\r\nHost: {hp}\r\nHost: other.example\r\n\r\n")),
                 ("If-None-Match", lambda: _head(port, "/static/js/link.js", 'If-None-Match: "a"',
                                                 'If-None-Match: "b"')),
                 ("Upgrade", lambda: _head(port, "/", "Upgrade: websocket", upgrade=True)),
                 ("Origin", lambda: _head(port, "/", f"Origin: http://{hp}", f"Origin: http://{hp}", upgrade=True)),
                 ("Authorization", lambda: _head(port, "/", bearer, bearer, upgrade=True))]
        for name, send in cases:
            status = send()
            counts["repeated_header_requests"] += 1
            if fig.check(status.startswith("HTTP/1.1 400"), f"http_edge: a repeated {name} got {status!r}"):
                counts["answered_400"] += 1
        fig.check(_head(port, "/", f"Origin: http://{hp}", upgrade=True).startswith("HTTP/1.1 101"),
                  "http_edge: the server's own origin was refused")
        for origin in (f"https://{hp}", f"ws://{hp}", f"file://{hp}", f"http://{hp}.evil.example"):
            status = _head(port, "/", f"Origin: {origin}", upgrade=True)
            if fig.check(status.startswith("HTTP/1.1 403"), f"http_edge: Origin {origin} got {status!r}"):
                counts["origin_scheme_refused"] += 1
        want = [f"repeated {name} header" for name, _ in cases]
        end, got = time.monotonic() + 5, []
        while time.monotonic() < end:
            got = [m for m in _refusals(srv.db) if m.startswith("repeated")]
            if got == want:
                break
            time.sleep(0.05)
        counts["audited"] = len(got)
        fig.check(got == want, f"http_edge: audited {got}")
    finally:
        srv.stop()
    log = srv.log_tail(1 << 20)
    fig.check("Traceback" not in log, "http_edge: a traceback in the server's log")
    fig.check(token not in log, "http_edge: a token in the log")


# --- SIGTERM while another holds the record's write lock ----------------------------------------

STOP_WITHIN = 5.0


async def stop_while_locked(fig: Figures, wd: str, quick: bool) -> None:
    """Another process (an operator's sqlite3, say) holds SQLite's write lock on the record, so
    commits wait (SQLite's 5 s busy wait) and fail; SIGTERM must still end the server within
    5 s (the stop's watchdog, exit 1, when a write cannot be joined), and once the lock is let
    go the record is whole (verify OK) and can be served again."""
    from campaigns.recordview import cli_verify
    srv = ServerProcess(wd)
    make_secret(srv.secret_file)
    srv.start()
    group = Room(srv, "locked")
    blocker = None
    try:
        f = await group.start(participants=("p1",))
        blocker = sqlite3.connect(srv.db, isolation_level=None, timeout=0)
        blocker.execute("BEGIN EXCLUSIVE")
        # a command whose commit now waits on the lock; SIGTERM comes while it waits
        pending = asyncio.ensure_future(f.command(c.Chat(text="while locked"), timeout=10))
        await asyncio.sleep(0.5)
        t = time.monotonic()
        rc = srv.stop()
        took = time.monotonic() - t
        fig.counts["sigterm_while_locked_to_exit_s"] = round(took, 2)
        fig.counts["sigterm_while_locked_exit_code"] = rc
        # a commit stuck in SQLite's busy wait cannot be joined: the watchdog ends the process (exit 1)
        fig.check(rc in (0, 1) and took < STOP_WITHIN, f"stop_while_locked: SIGTERM: exit {rc} after {took:.1f} s")
        pending.cancel()
        blocker.execute("ROLLBACK")
        blocker.close()
        blocker = None
        await group.close()
        code, out = cli_verify(srv.db)
        fig.check(code == 0, f"stop_while_locked: verify after the stop: {out[:200]}")
        srv.start()
        fig.check(srv.alive(), "stop_while_locked: the record could not be served again")
        fig.add("served_after_lock")
    finally:
        if blocker is not None:
            blocker.close()
        await group.close()
        srv.stop()


STORIES = {"restart_attendance": restart_attendance, "clock_steps": clock_steps, "rooms_memory": rooms_memory,
           "bad_files": bad_files, "breakout_rounds": breakout_rounds, "http_edge": http_edge,
           "stop_while_locked": stop_while_locked}
