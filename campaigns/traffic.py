"""Busy, scenario-like traffic: a few live groups doing what groups do.

Each room has a facilitator, a co-facilitator, an observer and participants,
each on their own websocket (participants alternate MessagePack and JSON).
Every person acts at a human-but-busy pace with seeded randomness: hands,
turns, chat, notes, flags, polls and votes, timers, breakouts, go-arounds,
check-ins, help requests, drops and returns. Refusals (`conflict`,
`not_found`...) are part of real traffic and are recorded as audit rows.

`Tracker` watches one client's frames: the seqs it saw (gaps, duplicates),
and for staff a mirror of the room folded from its welcome snapshot with the
same `evolve` the server uses.
"""
from __future__ import annotations

import asyncio
import random
import time


from protocol import commands as c
from protocol import events as e
from protocol.frames import Ack, EventFrame, Welcome
from protocol.state import RoomState
from protocol.roles import STAFF_ROLES
from server import engine
from server.client import ClientError, SessionClient
from websockets.exceptions import InvalidHandshake
from websockets.protocol import State

NAMES = ["Alex", "Blake", "Casey", "Drew", "Emery", "Finley", "Gray", "Harper", "Jordan", "Kai",
         "Logan", "Morgan"]


class Tracker:
    """One person's view of the stream across reconnects."""

    def __init__(self, person: str, role: str):
        self.person, self.role = person, role
        self.staff = role in STAFF_ROLES
        self.last = None              # last seq seen in this continuous stream
        self.events: list[EventFrame] = []
        self.mirror: RoomState | None = None
        self.gaps: list[str] = []     # human-readable problems
        self.welcomes = 0
        self.resumed = 0
        self.fresh = 0
        self.expect_resume_from: int | None = None
        self.polls_open: set[str] = set()
        self.speaker: str | None = None

    def on_frame(self, f) -> None:
        if isinstance(f, Welcome):
            self.welcomes += 1
            if f.resumed:
                self.resumed += 1
                if self.expect_resume_from is not None and f.seq < self.expect_resume_from:
                    self.gaps.append(f"{self.person}: resumed at {f.seq}, behind the {self.expect_resume_from} it had seen")
            else:
                self.fresh += 1
                self.last = f.seq
                if isinstance(f.state, RoomState):
                    self.mirror = f.state
            self.expect_resume_from = None
        elif isinstance(f, EventFrame):
            if self.last is not None:
                if f.seq <= self.last:
                    self.gaps.append(f"{self.person}: duplicate or out of order seq {f.seq} after {self.last}")
                elif self.staff and f.seq != self.last + 1:
                    self.gaps.append(f"{self.person}: gap, seq {f.seq} after {self.last}")
            self.last = f.seq if self.last is None else max(self.last, f.seq)
            self.events.append(f)
            if self.mirror is not None:
                engine.evolve(self.mirror, f.ev, f.at, f.seq)
            ev = f.ev
            if isinstance(ev, e.PollOpened):
                self.polls_open.add(ev.id)
            elif isinstance(ev, e.PollClosed):
                self.polls_open.discard(ev.id)
            elif isinstance(ev, e.TurnStarted):
                self.speaker = ev.person
            elif isinstance(ev, e.TurnEnded):
                self.speaker = None


class Person:
    def __init__(self, room: str, pid: str, role: str, name: str, url: str, token: str, binary: bool,
                 seed: int, ssl=None):
        self.room, self.id, self.role, self.name = room, pid, role, name
        self.tracker = Tracker(pid, role)
        self.client = SessionClient(url, token, binary=binary, name=pid, on_frame=self.tracker.on_frame,
                                    ssl=ssl)
        self.rng = random.Random(seed)
        self.pending: dict[str, c.Command] = {}     # sent, no answer yet (retried after a reconnect)
        self.answers: dict[str, object] = {}        # cid -> Ack / Error
        self.retried: dict[str, object] = {}        # cid -> answer to the retry
        self.cmds: dict[str, c.Command] = {}
        self.latencies: list[float] = []
        self.sent = 0
        self.n = 0
        self.poll_n = 0
        self.timer_n = 0

    @property
    def connected(self) -> bool:
        ws = self.client.ws
        return ws is not None and ws.state is State.OPEN and not self.client.closed.is_set()

    async def ended(self, timeout: float = 5.0) -> bool:
        """Waits until this client's reader has noticed its connection is gone."""
        r = self.client._reader
        if r is None or r.done():
            return True
        try:
            await asyncio.wait_for(asyncio.shield(r), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return False
        except BaseException:
            pass
        return True

    async def connect(self, resume: bool = True) -> Welcome:
        last = self.tracker.last if resume else None
        self.tracker.expect_resume_from = last
        return await self.client.connect(resume=last)

    def next_cid(self) -> str:
        self.n += 1
        return f"{self.id}-{self.n}"

    async def send(self, cmd: c.Command, cid: str | None = None, timeout: float = 10.0):
        cid = cid or self.next_cid()
        self.pending[cid] = cmd
        self.cmds[cid] = cmd
        t0 = time.perf_counter()
        self.sent += 1
        r = await self.client.command(cmd, cid=cid, timeout=timeout)
        self.latencies.append(time.perf_counter() - t0)
        self.pending.pop(cid, None)
        self.answers[cid] = r
        return r

    async def retry_pending(self) -> int:
        """Sends again every command that lost its answer to a cut: applied at most once."""
        n = 0
        for cid, cmd in list(self.pending.items()):
            r = await self.client.command(cmd, cid=cid, timeout=10)
            self.pending.pop(cid, None)
            self.retried[cid] = r
            self.answers[cid] = r
            n += 1
        return n

    # --- what each role does -------------------------------------------------------

    def choose(self, people: list[str]) -> c.Command | None:
        r = self.rng.random()
        t = self.tracker
        if self.role == "participant":
            if r < 0.25:
                return c.RaiseHand()
            if r < 0.33:
                return c.LowerHand()
            if r < 0.50:
                return c.Chat(text=f"{self.name} shares thought {self.n} about the week")
            if r < 0.54:
                return c.Chat(text=f"private to staff from {self.name} #{self.n}", to="facilitators")
            if r < 0.70 and t.polls_open:
                pid = self.rng.choice(sorted(t.polls_open))
                if pid.startswith("mood"):
                    return c.Vote(id=pid, value=self.rng.randint(0, 10))
                return c.Vote(id=pid, choice=self.rng.randint(0, 2))
            if r < 0.74:
                return c.ShareLocation(location=f"home of {self.name}, room {self.rng.randint(1, 9)}")
            if r < 0.77:
                return c.HelpRequest(text=f"{self.name} needs a hand")
            if r < 0.83:
                return c.Pass() if self.rng.random() < 0.5 else c.EndTurn()
            return None
        if self.role == "observer":
            return c.Chat(text="an observer tries to speak") if r < 0.1 else None
        target = self.rng.choice(people)
        if r < 0.18:
            return c.NextSpeaker()
        if r < 0.23:
            return c.CallOn(target=target)
        if r < 0.28:
            return c.EndTurn()
        if r < 0.36:
            return c.Chat(text=f"{self.name} to the group #{self.n}")
        if r < 0.39:
            return c.Chat(text=f"{self.name} privately #{self.n}", to=target)
        if r < 0.46:
            return c.Note(target=target, text=f"note {self.n}: {target} seems tired")
        if r < 0.49:
            return c.Flag(target=target, level=self.rng.choice(["watch", "urgent"]), reason="mentioned a lapse")
        if r < 0.60:
            self.poll_n += 1
            k = self.rng.random()
            pid = f"{'mood' if k < 0.5 else 'pick'}-{self.id}-{self.poll_n // 4}"
            step = self.poll_n % 4
            if step == 1:
                if pid.startswith("mood"):
                    return c.PollCreate(id=pid, question="Mood 0-10?", kind="scale", min=0, max=10,
                                        anonymous=self.rng.random() < 0.5)
                return c.PollCreate(id=pid, question="Which topic?", kind="single", options=["a", "b", "c"])
            return [c.PollOpen, c.PollClose, c.PollShare, c.PollOpen][step](id=pid)
        if r < 0.66:
            self.timer_n += 1
            tid = f"t-{self.id}-{self.timer_n // 3}"
            return [c.TimerStart(id=tid, seconds=self.rng.randint(1, 3), label="pause"),
                    c.TimerExtend(id=tid, seconds=1), c.TimerPause(id=tid)][self.timer_n % 3]
        if r < 0.69:
            return c.QueueMode(mode=self.rng.choice(["fifo", "fair"]))
        if r < 0.72:
            return c.BreakoutsPlan(size=2, seed=self.rng.randint(0, 99))
        if r < 0.74:
            return c.BreakoutsOpen(minutes=0.05)
        if r < 0.76:
            return c.BreakoutsClose()
        if r < 0.78:
            return c.BreakoutsBroadcast(text="two minutes left in pods")
        if r < 0.80:
            return c.AgendaNext()
        if r < 0.83:
            return c.MoveInQueue(target=target, position=1)
        if r < 0.85:
            return c.GoAround(seconds=1)
        if r < 0.88:
            return c.LowerHand(target=target)
        return None


class Group:
    """One room of busy traffic."""

    def __init__(self, room: str, url: str, token_fn, participants: int, seed: int, ssl=None):
        self.room = room
        rng = random.Random(seed)
        self.people: list[Person] = []
        cast = [("f1", "facilitator", "Dana"), ("c1", "cofacilitator", "Lee"), ("o1", "observer", "Sam")]
        cast += [(f"p{i + 1}", "participant", NAMES[i % len(NAMES)]) for i in range(participants)]
        for i, (pid, role, name) in enumerate(cast):
            binary = role != "cofacilitator" and (role != "participant" or i % 2 == 0)
            self.people.append(Person(room, pid, role, name, url, token_fn(room, role, pid, name), binary,
                                      rng.randrange(1 << 30), ssl=ssl))
        self.by_id = {p.id: p for p in self.people}
        self.participant_ids = [p.id for p in self.people if p.role == "participant"]

    @property
    def facilitator(self) -> Person:
        return self.people[0]

    async def setup(self) -> None:
        """Configures and opens the room (first start only)."""
        f = self.facilitator
        await f.connect(resume=False)
        roster = [c.RosterEntry(id=p.id, name=p.name, role=p.role) for p in self.people]
        r = await f.send(c.Configure(title="Campaign group", capacity=12, auto_admit=True, drop_grace=2,
                                     agenda=[c.AgendaItem("Check-in", 5), c.AgendaItem("Topic", 20),
                                             c.AgendaItem("Wrap-up", 5)], roster=roster))
        if not isinstance(r, Ack):
            raise RuntimeError(f"configure refused: {r}")
        r = await f.send(c.Open())
        if not isinstance(r, Ack):
            raise RuntimeError(f"open refused: {r}")

    async def connect_all(self) -> None:
        await asyncio.gather(*(p.connect() for p in self.people if not p.connected))

    async def act(self, p: Person, stop: asyncio.Event, pace: tuple[float, float],
                  drops: float = 0.0) -> None:
        """One person's loop until `stop` or until the connection is cut."""
        while not stop.is_set():
            await asyncio.sleep(p.rng.uniform(*pace))
            if stop.is_set() or not p.connected:
                return
            if drops and p.role == "participant" and p.rng.random() < drops:
                await p.client.drop()
                await asyncio.sleep(p.rng.uniform(0.0, 0.05))
                try:
                    await p.connect()
                except (ClientError, OSError, asyncio.TimeoutError, TimeoutError, InvalidHandshake):
                    return        # InvalidHandshake: the server was killed between accept and the HTTP answer
                continue
            cmd = p.choose(self.participant_ids)
            if cmd is None:
                continue
            try:
                await p.send(cmd)
            except (ClientError, OSError, asyncio.TimeoutError, TimeoutError, ConnectionError):
                return
            except Exception as exc:          # websockets raises ConnectionClosed on send
                if type(exc).__name__.startswith("ConnectionClosed"):
                    return
                raise
