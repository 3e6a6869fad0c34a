"""Crash campaign: SIGKILL a real `session-server serve` under busy traffic, again and again.

Each cycle: busy groups run for a seeded random while; the server process is
killed with SIGKILL; then, with the server dead, every event any client had
received must be in the record byte for byte (and every acknowledged command
and every refusal with its audit row), and `session-server verify` must pass.
The server is started again on the same database and secret; every client
reconnects with the last seq it saw and retries the commands that lost their
answer. Then: no client saw a gap or a duplicate (staff see every seq), each
staff console's mirror (its welcome snapshot folded with the events it got)
equals the record folded to the same seq, a fresh observer's snapshot (the
state the server rebuilt) equals the record folded to its seq, and every
command id appears in the record as one decision only.
"""
from __future__ import annotations

import asyncio
import random
import shutil

import msgspec

from campaigns.common import Figures, ServerProcess, workdir
from campaigns.recordview import RecordView, cli_verify, decode_event
from campaigns.traffic import Group, Person
from protocol.frames import Ack, Error, Welcome
from protocol.state import RoomState
from server.client import ClientError, SessionClient
from server.engine.views import for_participants

GATEWAY_CODES = {"rate_limited", "invalid", "too_large"}   # answered at the edge, not audited


class Crash:
    def __init__(self, fig: Figures, kills: int, rooms: int, participants: int, window: tuple[float, float],
                 keep: bool = False):
        self.fig = fig
        self.kills_target = kills
        self.rng = random.Random(fig.seed)
        self.wd = workdir("crash")
        self.srv = ServerProcess(self.wd)
        self.view = RecordView(self.srv.db)
        self.rooms = rooms
        self.participants = participants
        self.window = window
        self.keep = keep
        self.groups: list[Group] = []
        self.checked: dict[int, int] = {}       # id(person) -> events already checked
        self.answers_checked: dict[int, int] = {}

    def people(self) -> list[Person]:
        return [p for g in self.groups for p in g.people]

    async def run(self) -> None:
        fig = self.fig
        self.srv.start()
        try:
            for i in range(self.rooms):
                g = Group(f"crash-room-{i + 1}", self.srv.url, self.srv.token, self.participants,
                          self.rng.randrange(1 << 30))
                await g.setup()
                await g.connect_all()
                self.groups.append(g)
            for cycle in range(self.kills_target):
                await self.cycle(cycle)
            # the final word: the whole record read again from scratch
            await self.final_checks()
        finally:
            for p in self.people():
                if p.connected:
                    try:
                        await p.client.close()
                    except Exception:
                        pass
            self.srv.stop()
            if not self.keep and not fig.failures:
                shutil.rmtree(self.wd, ignore_errors=True)
            else:
                fig.counts["workdir"] = self.wd

    async def cycle(self, n: int) -> None:
        fig = self.fig
        stop = asyncio.Event()
        tasks = [asyncio.create_task(g.act(p, stop, (0.03, 0.09), drops=0.004))
                 for g in self.groups for p in g.people]
        await asyncio.sleep(self.rng.uniform(*self.window))
        self.srv.kill()
        fig.add("kills")
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=15)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None:
                fig.fail(f"kill {n}: a client loop raised {t.exception()!r}")
        for p in self.people():
            if not await p.ended():
                fig.fail(f"kill {n}: {p.id} never saw its connection end")
        # --- with the server dead: the record must hold everything anyone saw ---
        kill_mark = self.view.last_id
        self.view.refresh()
        self.check_received(n)
        self.check_answers(n)
        rc, out = cli_verify(self.srv.db)
        fig.add("verify_runs")
        fig.check(rc == 0, f"kill {n}: verify failed: {out}")
        # --- restart on the same record and secret; everyone resumes ---
        self.srv.start()
        fig.add("restarts")
        for g in self.groups:
            for p in g.people:
                if p.connected:
                    continue
                try:
                    await p.connect()
                except (ClientError, OSError, asyncio.TimeoutError, TimeoutError) as exc:
                    fig.fail(f"kill {n}: {p.id} could not resume: {exc!r}")
        await self.retry(n, kill_mark)
        await self.check_resumed(n)

    # --- the checks ------------------------------------------------------------------

    def check_received(self, n: int) -> None:
        fig, view = self.fig, self.view
        for p in self.people():
            evs = p.tracker.events
            start = self.checked.get(id(p), 0)
            for f in evs[start:]:
                fig.add("received_events_checked")
                row = view.event(p.room, f.seq)
                if row is None:
                    fig.fail(f"kill {n}: {p.id} saw seq {f.seq} of {p.room} ({type(f.ev).__name__}) "
                             "but the record does not hold it")
                    continue
                _, at, aud, typ, body = row
                want = body if p.tracker.staff else msgspec.msgpack.encode(for_participants(decode_event(body)))
                if at != f.at or aud != f.aud or msgspec.msgpack.encode(f.ev) != want:
                    fig.fail(f"kill {n}: {p.id} saw seq {f.seq} of {p.room} differently from the record")
            self.checked[id(p)] = len(evs)

    def check_answers(self, n: int) -> None:
        """Every ack names recorded events; every refusal by the engine has its audit row."""
        fig, view = self.fig, self.view
        for p in self.people():
            items = list(p.answers.items())
            start = self.answers_checked.get(id(p), 0)
            for cid, r in items[start:]:
                rows = view.by_cmd.get((p.room, p.id, cid))
                if isinstance(r, Ack):
                    fig.add("acks_checked")
                    if not rows:
                        # a command that changes nothing (next_speaker on an empty queue) is
                        # acked with the room's seq: that position must itself be durable
                        fig.add("silent_acks")
                        if r.seq > view.max_seq.get(p.room, 0):
                            fig.fail(f"kill {n}: {p.id} got an ack for {cid} ({p.cmds.get(cid)!r}) at seq "
                                     f"{r.seq}, past the record's end")
                    elif rows and max(s for _, k, s in rows if k == "event") > r.seq:
                        fig.fail(f"kill {n}: ack for {cid} says seq {r.seq}, the record has later rows")
                elif isinstance(r, Error) and r.code not in GATEWAY_CODES:
                    fig.add("refusals_checked")
                    if not rows or not all(k == "rejected" for _, k, _ in rows):
                        fig.fail(f"kill {n}: {p.id}'s {cid} was refused ({r.code}) without an audit row")
            self.answers_checked[id(p)] = len(items)

    async def retry(self, n: int, kill_mark: int) -> None:
        """Commands whose answer was lost to the kill are sent again with the same id."""
        fig = self.fig
        for p in self.people():
            if not p.pending or not p.connected:
                continue
            before = {cid: self.view.by_cmd.get((p.room, p.id, cid)) for cid in p.pending}
            try:
                k = await p.retry_pending()
            except Exception as exc:
                fig.fail(f"kill {n}: {p.id}'s retry failed: {exc!r}")
                continue
            fig.add("retried", k)
            for cid, rows in before.items():
                r = p.retried.get(cid)
                if rows:        # it was decided before the kill: the retry must say so, not decide again
                    fig.add("retried_already_recorded")
                    kinds = {k for _, k, _ in rows}
                    if "event" in kinds:
                        fig.check(isinstance(r, Ack) and r.duplicate,
                                  f"kill {n}: {p.id}'s {cid} was recorded, its retry answered {r!r}")
                    else:
                        fig.check(isinstance(r, Error), f"kill {n}: {p.id}'s refused {cid} retried into {r!r}")

    async def check_resumed(self, n: int) -> None:
        fig = self.fig
        for p in self.people():
            if p.connected:
                try:
                    await p.client.sync()
                except Exception as exc:
                    fig.fail(f"kill {n}: {p.id} did not answer a ping after resuming: {exc!r}")
        # a fresh observer per room: the state the server rebuilt, as a console would get it
        snapshots: list[tuple[str, int, bytes, str]] = []
        auditors = []
        for g in self.groups:
            a = SessionClient(self.srv.url, self.srv.token(g.room, "observer", "auditor", "Auditor"), name="aud")
            try:
                w: Welcome = await a.connect()
                auditors.append(a)
                if isinstance(w.state, RoomState):
                    snapshots.append((g.room, w.seq, msgspec.msgpack.encode(w.state), "rebuilt snapshot"))
            except (ClientError, OSError, asyncio.TimeoutError, TimeoutError) as exc:
                fig.fail(f"kill {n}: a fresh observer could not join {g.room}: {exc!r}")
        for p in self.people():
            if p.tracker.mirror is not None and p.connected:
                snapshots.append((p.room, p.tracker.mirror.seq, msgspec.msgpack.encode(p.tracker.mirror),
                                  f"{p.id}'s mirror"))
        for a in auditors:
            await a.close()
        self.view.refresh()
        for room, seq, enc, what in sorted(snapshots, key=lambda s: (s[0], s[1])):
            try:
                folded = self.view.fold_to(room, seq)
            except (KeyError, ValueError) as exc:
                fig.fail(f"kill {n}: cannot fold {room} to {seq}: {exc}")
                continue
            fig.check(msgspec.msgpack.encode(folded) == enc,
                      f"kill {n}: {what} of {room} at seq {seq} differs from the record's fold")
            fig.add("fold_checks")
        for p in self.people():
            t = p.tracker
            for g in t.gaps:
                fig.fail(f"kill {n}: {g}")
            fig.add("stream_checks")
            t.gaps.clear()
            if t.staff:
                fig.check(t.last is not None and t.last <= self.view.max_seq.get(p.room, 0),
                          f"kill {n}: {p.id} is at seq {t.last}, past the record's end")
        self.check_received(n)

    async def final_checks(self) -> None:
        fig = self.fig
        fresh = RecordView(self.srv.db)
        fresh.refresh()
        fig.check(fresh.events.keys() >= self.view.events.keys(),
                  "rows read earlier are missing from the record at the end")
        for key, row in self.view.events.items():
            if fresh.events.get(key) != row:
                fig.fail(f"the record's {key} changed after it was read")
                break
        for room in fresh.max_seq:
            seqs = sorted(s for (r, s) in fresh.events if r == room)
            fig.check(seqs == list(range(1, len(seqs) + 1)), f"{room}: the record's seqs have a hole")
        # one decision per command id: its rows are one contiguous run, all events or one refusal
        for key, rows in fresh.by_cmd.items():
            ids = [r[0] for r in rows]
            kinds = {r[1] for r in rows}
            ok = ids == list(range(ids[0], ids[0] + len(ids))) and (kinds == {"event"} or (
                kinds == {"rejected"} and len(rows) == 1))
            if not ok:
                fig.fail(f"command {key} was decided more than once: rows {ids} kinds {sorted(kinds)}")
        fig.add("commands_in_record", len(fresh.by_cmd))
        fig.counts["events"] = sum(fresh.max_seq.values())
        fig.counts["audit_rows"] = fresh.rejected
        fig.counts["rows"] = fresh.rows
        fig.counts["commands_sent"] = sum(p.sent for p in self.people())
        fig.counts["client_events"] = sum(len(p.tracker.events) for p in self.people())
        rc, out = cli_verify(self.srv.db)
        fig.check(rc == 0, f"final verify failed: {out}")


def run(args) -> int:
    fig = Figures("crash", args.seed, args.quick)
    kills = args.kills or (10 if args.quick else 200)
    rooms = args.rooms or (1 if args.quick else 2)
    participants = args.participants or (5 if args.quick else 8)
    window = (0.05, 0.5) if args.quick else (0.05, 1.0)
    asyncio.run(Crash(fig, kills, rooms, participants, window, keep=args.keep).run())
    return fig.emit()


def add_arguments(p) -> None:
    p.add_argument("--kills", type=int, help="kills to make (default 200; 10 with --quick)")
    p.add_argument("--rooms", type=int)
    p.add_argument("--participants", type=int)
    p.add_argument("--keep", action="store_true", help="keep the record and the server log")
