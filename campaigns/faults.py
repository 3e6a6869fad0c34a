"""Faults campaign: the record stops taking writes; the server must not freeze, lie or hang.

Each story runs a real `session-server serve` in a subprocess, with real
websocket clients on loopback and the real SQLite file:
  * `disk_full`: the record's disk fills up in the middle of a session (a
    small tmpfs filled with a file; where we are not root, the server's own
    file size limit, lowered with prlimit). The commands of the failed commit
    get `unavailable`, the staff consoles are told, the other room keeps
    serving pings, welcomes and resumes, new commands are refused at once;
    once space is freed, writing resumes on its own, retried ids are decided
    once, and the record is whole: every event anyone saw is in it, a fresh
    welcome equals its fold, and the people who came and went meanwhile are
    where they are.
  * `second_writer`: a second `serve` on the same record exits at once (2),
    with one line naming the file, while the first keeps working and
    `verify`, `export` and `replay --db` run beside it; once the first is
    gone (even by SIGKILL) the record can be served again.
  * `stop_while_full`: SIGTERM while the disk is full ends the server within
    5 s, and the record it leaves is whole.
The campaign also runs the stories of campaigns/faults_stories.py: restart
attendance, clock steps, rooms memory, bad files, breakout rounds and the
HTTP edge. `run_story` runs any of them.
"""
from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import sys
import time

import msgspec

from campaigns.common import Figures, ServerProcess, free_port, make_secret, workdir
from campaigns.faults_stories import STORIES as MORE
from campaigns.faults_stories import Room
from campaigns.recordview import RecordView, cli_verify, decode_event
from protocol import commands as c
from protocol.frames import Ack, Error
from protocol.state import RoomState
from server.client import SessionClient
from server.engine.views import for_participants

STOP_WITHIN = 5.0
DISK_BYTES = 8 * 1024 * 1024
ROOMS = ("faults-a", "faults-b")


class Disk:
    """Where the record lives, and a way to make its writes fail for real.

    As root: a tmpfs of its own, filled with a file until the kernel says
    ENOSPC, and freed by deleting it. Otherwise (or with mode "fsize"): the
    server process's file size limit, lowered with prlimit to the record's
    current size so no file of it can grow (EFBIG), and raised again."""

    def __init__(self, base: str, mode: str | None = None, size: int = DISK_BYTES):
        self.dir = os.path.join(base, "disk")
        os.makedirs(self.dir, exist_ok=True)
        self.mode = mode or ("tmpfs" if os.geteuid() == 0 else "fsize")
        self.size = size
        self.filler = os.path.join(self.dir, "filler")
        self.mounted = False
        if self.mode == "tmpfs":
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", self.dir],
                                  capture_output=True)
            if done.returncode == 0:
                self.mounted = True
            elif mode is None:
                self.mode = "fsize"        # root without the right to mount (a container): the other way
            else:
                raise RuntimeError(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}")

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def fill(self, pid: int) -> None:
        if self.mode == "tmpfs":
            chunk = b"\0" * (64 * 1024)
            fd = os.open(self.filler, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            try:
                while True:
                    try:
                        os.write(fd, chunk)
                    except OSError:
                        if len(chunk) == 1:
                            break
                        chunk = chunk[: len(chunk) // 2]
            finally:
                os.close(fd)
        else:
            biggest = max(os.path.getsize(os.path.join(self.dir, f)) for f in os.listdir(self.dir))
            _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (biggest, hard))

    def free(self, pid: int | None) -> None:
        if self.mode == "tmpfs":
            if os.path.exists(self.filler):
                os.unlink(self.filler)
        elif pid:
            _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", self.dir], capture_output=True)
            self.mounted = False


async def _answers(fig: Figures, cl: SessionClient, cmds: list[tuple[str, c.Command]], what: str,
                   timeout: float = 5.0) -> dict[str, Ack | Error]:
    """Sends commands at once (so they share commits); every one must be answered."""
    async def one(cid, cmd):
        try:
            return cid, await cl.command(cmd, cid=cid, timeout=timeout)
        except (asyncio.TimeoutError, TimeoutError):
            fig.fail(f"{what}: command {cid} got no answer in {timeout} s", kind="unanswered")
            return cid, None
    out = await asyncio.gather(*(one(cid, cmd) for cid, cmd in cmds))
    return {cid: r for cid, r in out if r is not None}


def _log_lines(srv: ServerProcess, text: str) -> int:
    return sum(1 for line in srv.log_tail(10_000_000).splitlines() if text in line)


async def _fresh_state(srv: ServerProcess, room: str) -> tuple[int, RoomState]:
    a = SessionClient(srv.url, srv.token(room, "observer", "auditor", "Auditor"), name="aud")
    w = await a.connect()
    await a.close()
    return w.seq, w.state


def _check_record(fig: Figures, srv: ServerProcess, rooms: list[Room], states: dict[str, tuple[int, RoomState]],
                  what: str) -> RecordView:
    """Everything seen is recorded as seen; the rebuilt state is the record's fold."""
    view = RecordView(srv.db)
    view.refresh()
    for r in rooms:
        for pid, t in r.trackers.items():
            for g in t.gaps:
                fig.fail(f"{what}: {g}")
            for f in t.events:
                fig.add("received_events_checked")
                row = view.event(r.room, f.seq)
                if row is None:
                    fig.fail(f"{what}: {pid} saw seq {f.seq} of {r.room} but the record does not hold it")
                    continue
                _, at, aud, _typ, body = row
                want = body if t.staff else msgspec.msgpack.encode(for_participants(decode_event(body)))
                fig.check(at == f.at and aud == f.aud and msgspec.msgpack.encode(f.ev) == want,
                          f"{what}: {pid} saw seq {f.seq} of {r.room} differently from the record")
    for room, (seq, state) in sorted(states.items()):
        fig.check(msgspec.msgpack.encode(view.fold_to(room, seq)) == msgspec.msgpack.encode(state),
                  f"{what}: the rebuilt state of {room} at seq {seq} differs from the record's fold")
        fig.add("fold_checks")
    rc, out = cli_verify(srv.db)
    fig.check(rc == 0, f"{what}: verify fails on the record: {out}")
    return view


# --- the stories ------------------------------------------------------------------------

async def disk_full(fig: Figures, wd: str, quick: bool, mode: str | None = None, cycles: int | None = None) -> None:
    disk = Disk(wd, mode)
    fig.counts["disk"] = disk.mode
    cycles = cycles or (1 if quick else 5)
    # bursts of commands until a commit fails: more than the rate limit lets one connection send
    srv = ServerProcess(wd, db=disk.path("record.db"), limits={"rate": 1000.0, "burst": 1000.0})
    make_secret(srv.secret_file)
    srv.start()
    a, b = Room(srv, ROOMS[0]), Room(srv, ROOMS[1])
    try:
        fa = await a.start()
        await b.start()          # b's room only has to be open: it must go on through a's outage
        burst = 10 if quick else 40
        before = await _answers(fig, fa, [(f"pre-{i}", c.Chat(text=f"before {i}")) for i in range(burst)], "before")
        fig.check(all(isinstance(x, Ack) for x in before.values()), "a command failed before the disk filled")
        sent: dict[str, c.Command] = {}
        failed: set[str] = set()
        for n in range(cycles):
            f_n, s_n = await _outage(fig, srv, disk, a, b, n, burst, quick)
            sent.update(s_n)
            failed |= f_n
        for room in (a, b):
            for cl in room.clients.values():
                if not cl.closed.is_set():
                    await cl.sync()
        states = {room.room: await _fresh_state(srv, room.room) for room in (a, b)}
        sa, sb = states[a.room][1], states[b.room][1]
        fig.check(sb.members["p2"].status == "present", "the participant who resumed is not present")
        fig.check(sa.members["p3"].status != "present", "the participant who left while full is a ghost")
        fig.check(_log_lines(srv, "the record cannot be written") == cycles
                  and _log_lines(srv, "the record is writable again") == cycles,
                  "the log does not say each change of health once")
        fig.check(_log_lines(srv, "Traceback") == 0, "the server logged a traceback")
        await a.close()
        await b.close()
        t = time.monotonic()
        rc = srv.stop()
        fig.counts["sigterm_to_exit_s"] = round(time.monotonic() - t, 2)
        fig.check(rc == 0 and time.monotonic() - t < STOP_WITHIN, f"SIGTERM: exit {rc}")
        view = _check_record(fig, srv, [a, b], states, "disk full")
        for cid in list(before) + list(sent):
            rows = view.by_cmd.get((a.room, "f1", cid), [])
            fig.check(len(rows) == 1, f"command {cid} has {len(rows)} rows in the record")
        fig.check(not any(k[2].startswith("b-full") for k in view.by_cmd), "a refused command is in the record")
    finally:
        await a.close()
        await b.close()
        srv.stop()
        disk.free(None)
        disk.close()


async def _outage(fig: Figures, srv: ServerProcess, disk: Disk, a: Room, b: Room, n: int, burst: int,
                  quick: bool) -> tuple[set[str], dict[str, c.Command]]:
    """One outage: fill, see commands fail and reads served, free, see writing resume.
    Returns the ids refused (each then retried and acked) and every id sent."""
    fa, fb = a.clients["f1"], b.clients["f1"]
    disk.fill(srv.pid)
    t_full = time.monotonic()
    sent: dict[str, c.Command] = {}
    failed: set[str] = set()
    for k in range(50):     # a commit may still fit in the file's last page: go on until one fails
        cmds = [(f"full-{n}-{k}-{i}", c.Chat(text=f"during {n}.{k}.{i} " + "x" * 500)) for i in range(burst)]
        sent.update(cmds)
        got = await _answers(fig, fa, cmds, "disk full")
        failed |= {cid for cid, r in got.items() if isinstance(r, Error) and r.code == "unavailable"}
        others = [r for r in got.values() if isinstance(r, Error) and r.code != "unavailable"]
        fig.check(not others, f"disk full: other errors than unavailable: {others[:2]}")
        if failed:
            break
    fig.add("acked_after_fill", sum(1 for cid in sent if cid not in failed))
    fig.add("unavailable", len(failed))
    fig.add("outages")
    if not fig.check(bool(failed), f"outage {n}: no command failed although the disk is full"):
        disk.free(srv.pid)
        return failed, sent
    await fa.sync()
    fig.check(fa.health is not None and fa.health.record == "unavailable",
              f"outage {n}: the facilitator's console was not told: {fa.health}")

    # the other room, and newcomers, are served from what is recorded
    t = time.monotonic()
    await b.clients["p1"].sync(timeout=3)
    await fb.sync(timeout=3)
    fig.counts["ping_while_full_ms"] = max(fig.counts.get("ping_while_full_ms", 0),
                                           round((time.monotonic() - t) * 1000, 1))
    obs = b.client(f"o{n}", "observer")
    w = await obs.connect(timeout=3)
    await obs.sync()
    fig.check(w.state is not None and w.seq == fb.last_seq, f"outage {n}: a welcome is not the recorded room")
    fig.check(obs.health is not None and obs.health.record == "unavailable",
              f"outage {n}: a staff console that came in during the outage was not told")
    p2 = b.clients["p2"]
    seen = p2.last_seq
    await p2.drop()
    w = await p2.connect(resume=seen, timeout=3)
    fig.check(w.resumed, f"outage {n}: a resume got a fresh welcome")
    await p2.sync()
    if n == 0:
        await a.clients["p3"].close()         # someone leaves while nothing can be recorded
    t = time.monotonic()
    r = await fb.command(c.Chat(text="while full"), cid=f"b-full-{n}", timeout=3)
    fig.counts["refusal_while_full_ms"] = max(fig.counts.get("refusal_while_full_ms", 0),
                                              round((time.monotonic() - t) * 1000, 1))
    fig.check(isinstance(r, Error) and r.code == "unavailable", f"outage {n}: a command got {r}")
    retry = await fa.command(c.Chat(text="before 0"), cid="pre-0")
    fig.check(isinstance(retry, Ack) and retry.duplicate, f"outage {n}: a retried acked id got {retry}")
    fig.add("served_while_full", 5)

    await asyncio.sleep(0.5 if quick else 3.0)     # a while down: probes back off, nothing else
    disk.free(srv.pid)
    t_free = time.monotonic()
    while time.monotonic() - t_free < 15 and (fa.health is None or fa.health.record != "ok"):
        await asyncio.sleep(0.05)
    fig.counts["down_s"] = round(fig.counts.get("down_s", 0) + t_free - t_full, 2)
    fig.counts["resumed_after_free_max_s"] = max(fig.counts.get("resumed_after_free_max_s", 0),
                                                 round(time.monotonic() - t_free, 2))
    fig.check(fa.health is not None and fa.health.record == "ok",
              f"outage {n}: writing did not resume after freeing space")
    again = await _answers(fig, fa, [(cid, sent[cid]) for cid in sorted(failed)], "retry after")
    fig.check(len(again) == len(failed) and all(isinstance(x, Ack) and not x.duplicate for x in again.values()),
              f"outage {n}: a command refused while full was not decided afresh on its retry")
    fig.add("retried_after", len(again))
    r = await fb.command(c.Chat(text="after"), cid=f"b-after-{n}")
    fig.check(isinstance(r, Ack), f"outage {n}: room B after recovery: {r}")
    await obs.close()
    return failed, sent


async def second_writer(fig: Figures, wd: str, quick: bool) -> None:
    srv = ServerProcess(wd)
    make_secret(srv.secret_file)
    srv.start()
    room = Room(srv, ROOMS[0])
    try:
        f = await room.start(participants=("p1",))
        second = ServerProcess(wd, db=srv.db, secret_file=srv.secret_file, port=free_port())
        t = time.monotonic()
        p = subprocess.run(second.argv(), capture_output=True, text=True, timeout=30, cwd=wd)
        fig.counts["second_refused_in_s"] = round(time.monotonic() - t, 2)
        lines = p.stderr.strip().splitlines()
        fig.check(p.returncode == 2, f"a second server exited {p.returncode}")
        fig.check(len(lines) == 1 and srv.db in lines[0] and "already holds" in lines[0],
                  f"the second server said: {p.stderr.strip()[:300]}")
        r = await f.command(c.Chat(text="still here"))
        fig.check(isinstance(r, Ack), f"the first server after the second was refused: {r}")
        for argv in (["verify", "--db", srv.db],
                     ["export", "--db", srv.db, "--room", room.room, "--format", "jsonl"],
                     ["replay", "--db", srv.db, "--room", room.room]):
            q = subprocess.run([sys.executable, "-m", "server.cli", *argv], capture_output=True, text=True,
                               timeout=60, cwd=wd)
            fig.check(q.returncode == 0, f"`{argv[0]}` beside a running server: {q.returncode} {q.stderr[:200]}")
            fig.add("readers_beside_server")
        r = await f.command(c.Chat(text="after the readers"))
        fig.check(isinstance(r, Ack), f"the server after the readers: {r}")
        await room.close()
        srv.kill()                  # the kernel drops the lock with the process
        srv.start()
        fig.add("served_after_kill")
        states = {room.room: await _fresh_state(srv, room.room)}
        srv.stop()
        _check_record(fig, srv, [room], states, "second writer")
    finally:
        await room.close()
        srv.stop()


async def stop_while_full(fig: Figures, wd: str, quick: bool, mode: str | None = None) -> None:
    disk = Disk(wd, mode)
    srv = ServerProcess(wd, db=disk.path("record.db"))
    make_secret(srv.secret_file)
    srv.start()
    room = Room(srv, ROOMS[0])
    try:
        f = await room.start(participants=("p1", "p2"))
        disk.fill(srv.pid)
        failed = False
        for n in range(50):
            got = await _answers(fig, f, [(f"s-{n}-{i}", c.Chat(text="x" * 500)) for i in range(10)], "stop")
            if any(isinstance(r, Error) and r.code == "unavailable" for r in got.values()):
                failed = True
                break
        fig.check(failed, "no command failed although the disk is full")
        t = time.monotonic()
        rc = srv.stop()          # clients still connected, the disk still full
        took = time.monotonic() - t
        fig.counts["sigterm_while_full_to_exit_s"] = round(took, 2)
        fig.check(rc == 0 and took < STOP_WITHIN, f"SIGTERM while full: exit {rc} after {took:.1f} s")
        await room.close()
        disk.free(None)
        srv.start()
        states = {room.room: await _fresh_state(srv, room.room)}
        srv.stop()
        _check_record(fig, srv, [room], states, "stop while full")
    finally:
        await room.close()
        srv.stop()
        disk.free(None)
        disk.close()


STORIES = {"disk_full": disk_full, "second_writer": second_writer, "stop_while_full": stop_while_full}


def _stories() -> dict:
    return {**STORIES, **MORE}


def run_story(name: str, fig: Figures, quick: bool = True, **kw) -> None:
    """Runs one story in a fresh work directory; its figures and failures go to `fig`."""
    wd = workdir(f"faults-{name}")
    t = time.monotonic()
    story = _stories()[name]
    try:
        if asyncio.iscoroutinefunction(story):
            asyncio.run(story(fig, wd, quick, **kw))
        else:
            story(fig, wd, quick, **kw)
    except Exception as exc:    # noqa: BLE001 - a story that crashes is a failure with its reason
        fig.fail(f"{name}: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    fig.counts[f"story_{name}_s"] = round(time.monotonic() - t, 1)
    fig.add("stories")


def run(args) -> int:
    fig = Figures("faults", args.seed, args.quick)
    names = args.stories.split(",") if args.stories else list(_stories())
    for name in names:
        kw = {"mode": args.disk} if args.disk and name in ("disk_full", "stop_while_full") else {}
        if name == "disk_full" and args.outages:
            kw["cycles"] = args.outages
        run_story(name, fig, args.quick, **kw)
    return fig.emit()


def add_arguments(p) -> None:
    p.add_argument("--stories", help=f"comma-separated, of: {', '.join(_stories())} (default: all)")
    p.add_argument("--outages", type=int, help="disk_full: times the disk fills and is freed (default 5; 1 with --quick)")
    p.add_argument("--disk", choices=["tmpfs", "fsize"],
                   help="how to fill the disk (default: tmpfs as root, else the file size limit)")
