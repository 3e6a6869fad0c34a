"""A simulated evening group, so a newcomer sees the console at work in seconds.

Each simulated participant is a real websocket client of the embedded server
(the same `SessionClient` the tests use): they knock, accept the agreement,
confirm their location, raise hands, answer polls, chat, ask for help, drop
and come back. Nothing here is special-cased in the server or the console.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time

from protocol import commands as c
from protocol import events as e
from protocol.commands import AgendaItem, RosterEntry
from protocol.frames import EventFrame, Welcome
from server.app import EmbeddedServer
from server.client import ClientError, SessionClient
from facilitator.local import FACILITATOR, as_facilitator, prepare_room

log = logging.getLogger("facilitator.demo")

AGREEMENT = ("What is shared here stays here. Speak from your own experience. "
             "One person speaks at a time. You may pass.")

# (id, name, on the roster, seconds until they knock, where they are)
PEOPLE = [
    ("p-alex", "Alex", True, 0.3, "home, Springfield"),
    ("p-blake", "Blake", True, 0.6, "home, Springfield"),
    ("p-casey", "Casey", True, 0.9, "office, Shelbyville"),
    ("p-drew", "Drew", True, 1.2, "car (parked), Ogdenville"),
    ("p-eli", "Eli", True, 1.5, "home, Capital City"),
    ("p-finn", "Finn", True, 1.8, "library, North Haverbrook"),
    ("p-gray", "Gray", True, 2.1, "home, Springfield"),
    ("p-harper", "Harper", True, 2.4, "home, Brockway"),
    ("p-indy", "Indy", True, 25.0, "home, Springfield"),          # late
    ("p-jules", "Jules", False, 4.0, "home, Cypress Creek"),       # not on the roster: waits
    ("p-kai", "Kai", False, 40.0, "cafe, Shelbyville"),            # a later knock
]
ABSENT = [("p-morgan", "Morgan")]                                     # expected, never comes

CHAT = [
    "Thanks for having me tonight.", "Can everyone hear me okay?", "That really resonates.",
    "I had a hard week but I'm here.", "Sorry, my connection is a bit slow.",
    "I'd like to share after Alex.", "Good point.", "I tried the breathing exercise, it helped.",
]


def demo_configure(title: str = "IOP Tuesday evening: relapse prevention") -> c.Configure:
    return c.Configure(
        title=title, capacity=12, agreement=AGREEMENT, auto_admit=True, drop_grace=45, survey=True,
        agenda=[AgendaItem("Check-in", 10), AgendaItem("Urges and cravings", 30),
                AgendaItem("Breakout practice", 20), AgendaItem("Wrap-up", 10)],
        roster=[RosterEntry(id=pid, name=name, together=["p-blake"] if pid == "p-alex" else [],
                            apart=["p-drew"] if pid == "p-casey" else [])
                for pid, name, expected, _, _ in PEOPLE if expected]
        + [RosterEntry(id=pid, name=name) for pid, name in ABSENT],
    )


class Participant:
    """One simulated person: a client, a temperament, and reactions to the room."""

    def __init__(self, group: "DemoGroup", pid: str, name: str, location: str, rng: random.Random):
        self.group, self.pid, self.name, self.location, self.rng = group, pid, name, location, rng
        self.client = SessionClient(group.url, group.server.token(group.room, "participant", pid, name),
                                    on_frame=self._frame, name=pid)
        self.inside = False
        self.queued = False
        self.speaking = False
        self.go_around = False
        self.talkative = rng.random()

    # --- reacting to what the room says --------------------------------------------------

    def _frame(self, frame) -> None:
        if isinstance(frame, Welcome):
            view = frame.state
            if view is not None and getattr(view, "status", "") == "present":
                self.inside = True
        elif isinstance(frame, EventFrame):
            ev = frame.ev
            if isinstance(ev, (e.Admitted, e.Returned)) and ev.person == self.pid:
                self.inside = True
            elif isinstance(ev, e.HandRaised) and ev.person == self.pid:
                self.queued = True
            elif isinstance(ev, e.HandLowered) and ev.person == self.pid:
                self.queued = False
            elif isinstance(ev, e.TurnStarted):
                self.speaking = ev.person == self.pid
                if self.speaking:
                    self.queued = False
                    self.group.spawn(self._speak(ev.ends_at is not None))
            elif isinstance(ev, e.TurnEnded) and ev.person == self.pid:
                self.speaking = False
            elif isinstance(ev, e.PollOpened):
                self.group.spawn(self._vote(ev))
            elif isinstance(ev, e.SurveyOpened):
                self.group.spawn(self._rate(ev))
            elif isinstance(ev, e.BreakoutsOpened):
                if any(self.pid in r for r in ev.rooms) and self.rng.random() < 0.5:
                    self.group.spawn(self._say(self.rng.choice(CHAT), delay=self.rng.uniform(3, 15)))

    async def _cmd(self, cmd: c.Command) -> None:
        try:
            await self.client.command(cmd, timeout=5)
        except (ClientError, asyncio.TimeoutError, TimeoutError, OSError, AttributeError):
            pass
        except Exception:  # noqa: BLE001 - a simulated person must never take the console down
            log.debug("demo command failed", exc_info=True)

    async def _speak(self, go_around: bool) -> None:
        await asyncio.sleep(self.rng.uniform(6, 18) * (0.5 + self.talkative))
        if self.speaking:
            await self._cmd(c.Pass() if go_around and self.rng.random() < 0.3 else c.EndTurn())

    async def _vote(self, ev: e.PollOpened) -> None:
        await asyncio.sleep(self.rng.uniform(1, 8))
        if not self.inside:
            return
        if ev.kind == "scale":
            lo, hi = ev.min or 0, ev.max if ev.max is not None else 10
            mid = lo + (hi - lo) * 0.6
            value = max(lo, min(hi, round(self.rng.gauss(mid, (hi - lo) / 5))))
            await self._cmd(c.Vote(id=ev.id, value=value))
        elif ev.kind in ("phq2", "gad2"):
            worried = self.pid == "p-gray"          # one answer crosses the screening threshold
            answers = [2, 2] if worried else [self.rng.randint(0, 1), self.rng.randint(0, 1)]
            await self._cmd(c.Vote(id=ev.id, answers=answers))
        elif ev.kind == "single" and ev.options:
            await self._cmd(c.Vote(id=ev.id, choice=self.rng.randint(1, len(ev.options))))
        elif ev.kind == "multi" and ev.options:
            k = self.rng.randint(1, len(ev.options))
            await self._cmd(c.Vote(id=ev.id, choices=sorted(self.rng.sample(range(1, len(ev.options) + 1), k))))

    async def _rate(self, ev: e.SurveyOpened) -> None:
        """Most answer the end-of-session survey within a few seconds; some leave a word."""
        await asyncio.sleep(self.rng.uniform(2, 10))
        if not self.inside or self.rng.random() < 0.15:
            return
        ratings = [max(1, min(5, round(self.rng.gauss(4, 0.8)))) for _ in ev.items]
        comment = self.rng.choice(["", "", "Thank you, this helped.", "More time for practice, please."])
        await self._cmd(c.SurveyAnswer(ratings=ratings, comment=comment))

    async def _say(self, text: str, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        if self.inside:
            await self._cmd(c.Chat(text=text))

    # --- living in the room ----------------------------------------------------------------

    async def arrive(self) -> None:
        try:
            await self.client.connect()
        except (ClientError, OSError) as exc:
            log.info("demo participant could not join: %s", exc)
            return
        await self._cmd(c.AcceptAgreement())
        await asyncio.sleep(self.rng.uniform(0.2, 1.5))
        await self._cmd(c.ShareLocation(location=self.location))

    async def live(self) -> None:
        while True:
            await asyncio.sleep(self.rng.uniform(5, 16))
            if not self.inside or self.client.closed.is_set():
                continue
            roll = self.rng.random()
            if roll < 0.35 * (0.5 + self.talkative) and not self.queued and not self.speaking:
                await self._cmd(c.RaiseHand())
            elif roll < 0.45 and self.queued:
                await self._cmd(c.LowerHand())
            elif roll < 0.55:
                await self._cmd(c.Chat(text=self.rng.choice(CHAT)))

    async def drop_and_return(self, after: float, away: float) -> None:
        await asyncio.sleep(after)
        await self.client.drop()
        self.inside = False
        await asyncio.sleep(away)
        try:
            await self.client.connect(resume=self.client.last_seq)
        except (ClientError, OSError):
            pass


class DemoGroup:
    def __init__(self, server: EmbeddedServer, room: str, seed: int | None = None):
        self.server, self.room = server, room
        self.url = server.url
        self.rng = random.Random(seed)
        self.tasks: set[asyncio.Task] = set()
        self.people: dict[str, Participant] = {}

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("demo task failed: %r", task.exception())

    async def start(self) -> None:
        await prepare_room(self.server, self.room, demo_configure())
        # a ready-made mood check-in waits as a draft: `o` opens it
        await as_facilitator(self.server, self.room, c.PollCreate(
            id="mood", kind="scale", min=0, max=10, question="How are you feeling right now, 0 to 10?",
            alert_at_or_below=3))
        for pid, name, _expected, delay, location in PEOPLE:
            p = self.people[pid] = Participant(self, pid, name, location, random.Random(self.rng.random()))
            self.spawn(self._run(p, delay))
        self.spawn(self.people["p-eli"].drop_and_return(after=20, away=8))
        self.spawn(self.people["p-finn"].drop_and_return(after=35, away=70))   # past the grace: an alert
        self.spawn(self._help_later("p-gray", 50, "Can I talk to someone after group?"))
        self.spawn(self._chat_from_staff())

    async def _run(self, p: Participant, delay: float) -> None:
        await asyncio.sleep(delay)
        await p.arrive()
        await p.live()

    async def _help_later(self, pid: str, after: float, text: str) -> None:
        await asyncio.sleep(after)
        await self.people[pid]._cmd(c.HelpRequest(text=text))

    async def _chat_from_staff(self) -> None:
        await asyncio.sleep(3)
        await as_facilitator(self.server, self.room, c.Chat(
            text="Welcome, everyone. We'll start with a check-in.", to="all"), FACILITATOR)

    async def stop(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        for p in self.people.values():
            try:
                await asyncio.wait_for(p.client.close(), 2)
            except Exception:  # noqa: BLE001 - shutting down
                pass


def demo_room_name() -> str:
    """Each demo gets a fresh room: a closed or half-run one from last time would confuse."""
    return time.strftime("demo-%Y%m%d-%H%M%S")
