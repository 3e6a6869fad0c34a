"""Failover campaign: SIGKILL the server that owns a room, again and again, behind HAProxy.

Three session servers share one PostgreSQL record behind the shipped HAProxy
configuration; busy groups run in several rooms, every connection through the
proxy. Each cycle kills (SIGKILL) the owner of a random room. Then:
- the dead server's rooms are served again (by whichever server the proxy
  sends them to, once the dead one's leases lapse) within 5 s: measured from
  the kill to the room's facilitator resuming and getting an answer;
- everyone in those rooms resumes by seq, and retried commands are applied once;
- the rooms of the other servers never notice: none of their connections ends;
- the killed server starts again, empty, on the same port.
At the end: no client saw a gap or a duplicate, every event anyone received is
in the record with the same bytes, each staff mirror and a fresh observer's
welcome equal the record folded to their seq, and `verify` passes.
"""
from __future__ import annotations

import asyncio
import random
import shutil
import time

import msgspec
from websockets.exceptions import InvalidHandshake

from campaigns.cluster import Cluster
from campaigns.common import Figures, percentile, workdir
from campaigns.traffic import Group, Person
from protocol.frames import Ack
from server.client import ClientError, SessionClient
from server.engine.views import for_participants
from server.record import open_record, reading


class Failover:
    def __init__(self, fig: Figures, kills: int, rooms: int, participants: int):
        self.fig = fig
        self.kills = kills
        self.rng = random.Random(fig.seed)
        self.wd = workdir("failover")
        self.cluster = Cluster(self.wd, 3)
        self.rooms, self.participants = rooms, participants
        self.groups: list[Group] = []
        self.served: list[float] = []

    async def run(self) -> None:
        fig = self.fig
        self.cluster.start()
        try:
            for i in range(self.rooms):
                g = Group(f"failover-room-{i + 1}", self.cluster.url, self.cluster.token, self.participants,
                          self.rng.randrange(1 << 30))
                await g.setup()
                await g.connect_all()
                self.groups.append(g)
            for n in range(self.kills):
                await self.cycle(n)
            await self.final_checks()
        finally:
            for g in self.groups:
                for p in g.people:
                    if p.connected:
                        try:
                            await p.client.close()
                        except Exception:      # noqa: BLE001 - tearing down
                            pass
            self.cluster.stop()
            if not fig.failures:
                shutil.rmtree(self.wd, ignore_errors=True)
            else:
                fig.counts["workdir"] = self.wd

    async def cycle(self, n: int) -> None:
        fig, cl = self.fig, self.cluster
        stop = asyncio.Event()
        tasks = [asyncio.create_task(g.act(p, stop, (0.03, 0.1))) for g in self.groups for p in g.people]
        await asyncio.sleep(self.rng.uniform(0.3, 1.0))
        owners = {g.room: cl.owner_of(g.room) for g in self.groups}
        victim_room = self.rng.choice(self.groups).room
        victim = owners[victim_room]
        if victim is None:
            fig.fail(f"kill {n}: nobody holds the lease of {victim_room}")
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            return
        hit = [g for g in self.groups if owners[g.room] is victim]
        spared = [g for g in self.groups if owners[g.room] is not victim]
        # commands in flight as the owner dies: their answers are lost, and their
        # retries after the resume must be applied once
        from protocol import commands as c
        flying = [asyncio.create_task(p.send(c.Chat(text=f"said as the server died {n}")))
                  for g in hit for p in g.people if p.role in ("participant", "facilitator") and p.connected]
        await asyncio.sleep(0)
        victim.kill()
        t0 = time.monotonic()
        fig.add("kills")
        stop.set()
        await asyncio.gather(*tasks, *flying, return_exceptions=True)
        for g in hit:
            for p in g.people:
                await p.ended()
                fig.add("commands_cut_by_the_kill", len(p.pending))
        # the other servers' rooms never notice
        for g in spared:
            cut = [p.id for p in g.people if not p.connected]
            fig.add("spared_rooms_checked")
            fig.check(not cut, f"kill {n}: {g.room} on another server lost connections: {cut}")
            r = await g.facilitator.send(c_ping(), timeout=10) if g.facilitator.connected else None
            fig.check(isinstance(r, Ack), f"kill {n}: {g.room} on another server stopped answering: {r!r}")
        # the dead server's rooms come back through the proxy
        for g in hit:
            f = g.facilitator
            if not await self.resume(f, deadline=t0 + 15):
                fig.fail(f"kill {n}: {g.room} was not served again within 15 s")
                continue
            r = await f.send(c_ping(), timeout=10)
            if fig.check(isinstance(r, Ack), f"kill {n}: {g.room}'s facilitator got {r!r} after resuming"):
                self.served.append(time.monotonic() - t0)
            for p in g.people[1:]:
                if not await self.resume(p, deadline=time.monotonic() + 15):
                    fig.fail(f"kill {n}: {p.id} of {g.room} could not resume")
            for p in g.people:
                if p.connected:
                    fig.add("commands_retried", await p.retry_pending())
        victim.start()
        fig.add("restarts")

    async def resume(self, p: Person, deadline: float) -> bool:
        while time.monotonic() < deadline:
            try:
                await p.connect()
                return True
            except InvalidHandshake:       # the proxy's 502/503 until it has marked the dead server down
                self.fig.add("reconnect_attempts_refused_by_proxy")
                await asyncio.sleep(0.1)
            except (ClientError, OSError, asyncio.TimeoutError, TimeoutError):
                self.fig.add("reconnect_attempts")
                await asyncio.sleep(0.1)
        return False

    async def final_checks(self) -> None:
        fig = self.fig
        rec = open_record(self.cluster.db, readonly=True)
        try:
            for g in self.groups:
                events = {seq: (at, aud, body) for seq, at, aud, _t, body in rec.events(g.room)}
                for p in g.people:
                    for gap in p.tracker.gaps:
                        fig.fail(f"{g.room}: {gap}", kind="gap or duplicate")
                    for f in p.tracker.events:
                        fig.add("received_events_checked")
                        row = events.get(f.seq)
                        if row is None:
                            fig.fail(f"{g.room}: {p.id} saw seq {f.seq}, not in the record", kind="lost event")
                            continue
                        at, aud, body = row
                        want = body if p.tracker.staff else msgspec.msgpack.encode(for_participants(reading.decode(body)))
                        if at != f.at or aud != f.aud or msgspec.msgpack.encode(f.ev) != want:
                            fig.fail(f"{g.room}: {p.id} saw seq {f.seq} unlike the record", kind="changed event")
                    m = p.tracker.mirror
                    if p.tracker.staff and m is not None:
                        fig.check(_enc(m) == _enc(reading.fold(rec, g.room, upto=m.seq).state),
                                  f"{g.room}: {p.id}'s mirror differs from the record folded to {m.seq}")
                obs = SessionClient(self.cluster.url, self.cluster.token(g.room, "observer", "o-final", "Final"))
                w = await obs.connect()
                await obs.close()
                # folded from the record as it is now: the observer's own arrival is part of its welcome
                fig.check(_enc(w.state) == _enc(reading.fold(rec, g.room, upto=w.seq).state),
                          f"{g.room}: a fresh observer's welcome differs from the record folded to {w.seq}")
            # each retried command was decided once: its events are one contiguous run of seqs
            decided: dict[tuple, list[int]] = {}
            for _rid, room, seq, _at, actor, kind, _t, _aud, cmd, _b in rec.rows():
                if kind == "event" and cmd is not None:
                    decided.setdefault((room, actor, cmd), []).append(seq)
            for g in self.groups:
                for p in g.people:
                    for cid, answer in p.retried.items():
                        fig.add("retries_checked")
                        fig.check(type(answer).__name__ in ("Ack", "Error"),
                                  f"{g.room}: {p.id}'s retry of {cid} got {answer!r}")
                        seqs = decided.get((g.room, p.id, cid), [])
                        fig.check(seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True,
                                  f"{g.room}: {p.id}'s command {cid} was decided more than once: {seqs}")
            res = rec.verify()
            fig.check(res.ok, f"verify: {res.problem}")
            fig.counts["rows"] = res.rows
        finally:
            rec.close()
        s = self.served
        fig.counts["served_again_s"] = {"n": len(s), "median": round(percentile(s, 50), 2),
                                        "max": round(max(s), 2) if s else None}
        fig.check(not s or max(s) < 5.0, f"a room took {max(s) if s else 0:.2f} s to be served again (goal < 5 s)")


def c_ping():
    """A harmless command whose answer proves the room is served: lowering no hand."""
    from protocol import commands as c
    return c.QueueMode(mode="fifo")


def _enc(state) -> bytes:
    return msgspec.msgpack.encode(state)


def add_arguments(p) -> None:
    p.add_argument("--kills", type=int, help="owners to kill (default 50; 2 with --quick)")
    p.add_argument("--rooms", type=int, default=6)
    p.add_argument("--participants", type=int, default=4)


def run(args) -> int:
    kills = args.kills or (2 if args.quick else 50)
    fig = Figures("failover", args.seed, args.quick)
    asyncio.run(Failover(fig, kills, args.rooms if not args.quick else 4, args.participants).run())
    return fig.emit()
