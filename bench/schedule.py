"""What the simulated groups do, decided in advance with the engine itself.

Each room gets a timeline of commands (who sends what, when). The timeline is
built by running the real `decide`/`evolve` over a simulated room, so every
command in it is one the server accepts when commands arrive in the planned
order; nothing in the load generator has to react to what it receives. The
same timeline is sent to the project and to the bare relay, so both carry the
same frames at the same instants.

The same simulation, run for a whole 90-minute group, gives the realistic
event stream that the fold and restart figures use.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from protocol import commands as c
from protocol.events import Event
from server import engine
from server.engine import Actor, Ctx, Rejected

PARTICIPANTS = 11                  # per room, besides the facilitator
LATE = PARTICIPANTS                # the participant who joins during the window
MIN_GAP = 0.03                     # seconds between two senders' commands in one room
SEAL_KEY = b"bench-seal-key"

NAMES = ["Ada", "Ben", "Cleo", "Dev", "Emi", "Finn", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"]
CHAT = [
    "Thanks for sharing that, it really resonates with me.",
    "I had a hard week but I'm glad to be here tonight.",
    "Could you say a bit more about what helped you?",
    "Same here. The breathing exercise worked for me too.",
    "I'm not sure I'm ready to talk yet, maybe later.",
    "That sounds really difficult. I appreciate you telling us.",
]


def pid(who: int) -> str:
    return "f0" if who == 0 else f"p{who}"


def actor(who: int) -> Actor:
    if who == 0:
        return Actor("f0", "facilitator", "Facilitator")
    return Actor(pid(who), "participant", NAMES[(who - 1) % len(NAMES)])


def roster() -> list[c.RosterEntry]:
    return [c.RosterEntry(id=pid(w), name=actor(w).name) for w in range(1, PARTICIPANTS + 1)]


@dataclass(slots=True)
class Step:
    t: float                 # seconds after the window starts
    who: int                 # 0 the facilitator, 1..11 participants
    kind: str                # hand | next | chat | poll | vote | breakout | admit | join
    cmd: c.Command | None    # None for "join": the late participant connects


@dataclass(slots=True)
class Emitted:
    seq: int
    at: float
    aud: str
    event: Event
    actor: str | None
    cmd_id: str | None


@dataclass
class Sim:
    """A room folded with the engine, remembering everything it emitted."""
    room: str
    now: float = 0.0
    state: object = None
    log: list[Emitted] = field(default_factory=list)
    n: int = 0

    def __post_init__(self):
        self.state = engine.new_room(self.room)

    def _apply(self, emits, who: str | None, cid: str | None) -> None:
        for x in emits:
            at = x.at if x.at is not None else self.now
            seq = self.state.seq + 1
            engine.evolve(self.state, x.event, at, seq)
            self.log.append(Emitted(seq, at, x.aud, x.event, who, cid))

    def do(self, who: int, cmd: c.Command) -> bool:
        self.n += 1
        try:
            emits = engine.decide(self.state, cmd, Ctx(self.now, actor(who), SEAL_KEY))
        except Rejected:
            return False
        self._apply(emits, pid(who), f"{pid(who)}-{self.n}")
        return True

    def connect(self, who: int) -> None:
        self._apply(engine.connect(self.state, actor(who), self.now), pid(who), None)

    def disconnect(self, who: int) -> None:
        self._apply(engine.disconnect(self.state, actor(who), self.now), pid(who), None)

    def fire_due(self) -> None:
        while True:
            at = engine.due(self.state)
            if at is None or at > self.now:
                return
            emits = engine.expire(self.state)
            if not emits:
                return
            self._apply(emits, None, None)


def setup(sim: Sim, present: int) -> None:
    """The facilitator opens the room; `present` participants arrive and are admitted."""
    sim.connect(0)
    sim.do(0, c.Configure(title="Tuesday evening group", capacity=12, roster=roster()))
    sim.do(0, c.Open())
    for w in range(1, present + 1):
        sim.connect(w)
        sim.do(0, c.Admit(target=pid(w)))


def _background(rng: random.Random, sim: Sim, t: float) -> tuple[int, str, c.Command]:
    st = sim.state
    present = [w for w in range(1, PARTICIPANTS + 1)
               if st.members.get(pid(w)) is not None and st.members[pid(w)].status == "present"]
    if st.breakouts == "open":
        if rng.random() < 0.1:
            return 0, "chat", c.BreakoutsBroadcast(text="Five more minutes in your rooms.")
        return rng.choice(present), "chat", c.Chat(text=rng.choice(CHAT))
    r = rng.random()
    if r < 0.40:
        free = [w for w in present if pid(w) not in st.queue and st.speaker != pid(w)]
        if free:
            return rng.choice(free), "hand", c.RaiseHand()
    if r < 0.65:
        return 0, "next", c.NextSpeaker()
    who = 0 if rng.random() < 0.2 else rng.choice(present)
    return who, "chat", c.Chat(text=rng.choice(CHAT))


def _bursts(rng: random.Random, poll_at: float, seconds: float, seed: int) -> list:
    """Every room at once: a poll everyone answers within two seconds, then breakouts."""
    out = [(poll_at, 0, "poll", c.PollCreate(id="mood", question="How are you arriving today?",
                                             kind="single", options=["Calm", "Tense", "Tired"]))]
    out.append((poll_at + 0.002, 0, "poll", c.PollOpen(id="mood")))
    for w in range(1, PARTICIPANTS + 1):
        out.append((poll_at + 0.1 + rng.uniform(0, 2.0), w, "vote", c.Vote(id="mood", choice=rng.randint(1, 3))))
    out.append((poll_at + 2.3, 0, "poll", c.PollClose(id="mood")))
    out.append((poll_at + 2.302, 0, "poll", c.PollShare(id="mood")))
    b_at = poll_at + 2.5
    out.append((b_at, 0, "breakout", c.BreakoutsPlan(rooms=3, seed=seed)))
    out.append((b_at + 0.1, 0, "breakout", c.BreakoutsOpen(minutes=10)))
    out.append((seconds - 0.4, 0, "breakout", c.BreakoutsClose()))
    return out


def window(room: str, seed: int, seconds: float, rate: float, bursts: bool = True) -> list[Step]:
    """One room's timeline for a measured window of `seconds`.

    Background: `rate` commands a second (hand raises, next speaker, chat).
    A late participant knocks early on and is admitted half a second later.
    With `bursts`, at 20% of the window every room opens a poll at the same
    instant and all present participants vote within two seconds; then
    breakouts are planned, opened, chatted in and closed. Without, the room
    only talks: the steady load of one command per room per second.
    """
    rng = random.Random(seed)
    sim = Sim(room)
    setup(sim, PARTICIPANTS - 1)
    planned: list[tuple[float, int, str, c.Command | None]] = []
    poll_at = 0.2 * seconds
    late = rng.uniform(0.02, 0.12) * seconds
    planned.append((late, LATE, "join", None))
    planned.append((late + 0.5, 0, "admit", c.Admit(target=pid(LATE))))
    if bursts:
        planned.extend(_bursts(rng, poll_at, seconds, seed))
    planned.sort(key=lambda p: p[0])

    steps: list[Step] = []
    t = rng.uniform(0.0, 1.0 / rate)
    last_t, last_who = -1.0, -1
    pending = list(planned)
    while pending or t < seconds - 0.3:
        if pending and (pending[0][0] <= t or t >= seconds - 0.3):
            at, who, kind, cmd = pending.pop(0)
        else:
            at = t
            who, kind, cmd = -1, "", None
            t += rng.expovariate(rate)
        if at < last_t + MIN_GAP and who != last_who:
            at = last_t + MIN_GAP
        sim.now = at
        if who == -1:
            who, kind, cmd = _background(rng, sim, at)
        if kind == "join":
            sim.connect(LATE)
            ok = True
        else:
            ok = sim.do(who, cmd)
        if ok:
            steps.append(Step(at, who, kind, cmd))
            last_t, last_who = at, who
    return steps


def group_session(room: str, seed: int, minutes: float = 90.0, rate: float = 0.5) -> list[Emitted]:
    """A whole group, as the record would hold it: arrivals, talk, polls, breakouts, a drop."""
    rng = random.Random(seed)
    sim = Sim(room)
    sim.now = 1_700_000_000.0
    setup(sim, PARTICIPANTS)
    end = sim.now + minutes * 60
    t0 = sim.now
    poll_n = 0
    next_poll, next_breakout, next_drop = t0 + 300, t0 + 1200, t0 + 600
    while sim.now < end:
        sim.now += rng.expovariate(rate)
        sim.fire_due()
        if sim.now >= next_poll:
            poll_n += 1
            pid_ = f"poll{poll_n}"
            sim.do(0, c.PollCreate(id=pid_, question="How are you arriving today?", kind="single",
                                   options=["Calm", "Tense", "Tired"]))
            sim.do(0, c.PollOpen(id=pid_))
            for w in range(1, PARTICIPANTS + 1):
                sim.now += rng.uniform(0, 0.2)
                sim.do(w, c.Vote(id=pid_, choice=rng.randint(1, 3)))
            sim.do(0, c.PollClose(id=pid_))
            sim.do(0, c.PollShare(id=pid_))
            next_poll += 900
        elif sim.now >= next_breakout:
            sim.do(0, c.BreakoutsPlan(rooms=3, seed=poll_n))
            sim.do(0, c.BreakoutsOpen(minutes=8))
            for _ in range(40):
                sim.now += rng.expovariate(0.2)
                sim.fire_due()
                w = rng.randint(1, PARTICIPANTS)
                sim.do(w, c.Chat(text=rng.choice(CHAT)))
            sim.do(0, c.BreakoutsClose())
            next_breakout += 1800
        elif sim.now >= next_drop:
            w = rng.randint(1, PARTICIPANTS)
            sim.disconnect(w)
            sim.now += 30
            sim.connect(w)
            next_drop += 1500
        else:
            who, kind, cmd = _background(rng, sim, sim.now)
            sim.do(who, cmd)
    return sim.log
