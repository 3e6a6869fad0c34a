"""Poll tallies always equal the fold of each participant's latest vote, and an
anonymous ballot never names its voter. Played through the pure engine, the
same decide/evolve the server runs."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import commands as c
from protocol import events as e
from server import engine
from server.engine import Actor, Ctx, Rejected
from server.engine.polls import tally

STAFF = Actor("f1", "facilitator", "Dana")
PEOPLE = [f"p{i}" for i in range(1, 9)]
KEY = b"k" * 32


def _apply(state, emits, t):
    for x in emits:
        engine.evolve(state, x.event, x.at or t, state.seq + 1)
    return emits


def _room(kind, anonymous, options=("yes", "no", "maybe")):
    s = engine.new_room("r")
    t = 1000.0
    _apply(s, engine.decide(s, c.Configure(roster=[c.RosterEntry(id=p, name=p) for p in PEOPLE]),
                            Ctx(t, STAFF, KEY)), t)
    _apply(s, engine.decide(s, c.Open(), Ctx(t, STAFF, KEY)), t)
    for p in PEOPLE:
        actor = Actor(p, "participant", p)
        _apply(s, engine.connect(s, actor, t), t)
        _apply(s, engine.decide(s, c.Admit(target=p), Ctx(t, STAFF, KEY)), t)
    cmd = c.PollCreate(id="q", question="How are you?", kind=kind, options=list(options) if kind != "scale" else [],
                       min=0 if kind == "scale" else None, max=10 if kind == "scale" else None, anonymous=anonymous)
    _apply(s, engine.decide(s, cmd, Ctx(t, STAFF, KEY)), t)
    _apply(s, engine.decide(s, c.PollOpen(id="q"), Ctx(t, STAFF, KEY)), t)
    return s


votes = st.lists(st.tuples(st.sampled_from(PEOPLE), st.integers(0, 10)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(votes=votes, kind=st.sampled_from(["single", "scale", "multi"]))
def test_named_tally_is_the_fold_of_latest_votes(votes, kind):
    s = _room(kind, anonymous=False)
    latest: dict[str, list[str]] = {}
    opts = ["yes", "no", "maybe"]
    for i, (p, v) in enumerate(votes):
        if kind == "single":
            cmd, keys = c.Vote(id="q", choice=opts[v % 3]), [opts[v % 3]]
        elif kind == "multi":
            chosen = [o for j, o in enumerate(opts) if (v >> j) & 1] or ["yes"]
            cmd, keys = c.Vote(id="q", choices=chosen), chosen
        else:
            cmd, keys = c.Vote(id="q", value=v), [str(v)]
        _apply(s, engine.decide(s, cmd, Ctx(2000.0 + i, Actor(p, "participant", p), KEY)), 2000.0 + i)
        latest[p] = keys
    counts, total = tally(s.polls["q"])
    expected: dict[str, int] = {}
    for keys in latest.values():
        for k in keys:
            expected[k] = expected.get(k, 0) + 1
    assert counts == expected and total == len(latest)


@settings(max_examples=60, deadline=None)
@given(votes=votes)
def test_anonymous_ballots_are_final_and_name_nobody(votes):
    s = _room("scale", anonymous=True)
    first: dict[str, int] = {}
    emitted = []
    for i, (p, v) in enumerate(votes):
        try:
            emits = engine.decide(s, c.Vote(id="q", value=v), Ctx(2000.0 + i, Actor(p, "participant", p), KEY))
        except Rejected as exc:
            assert p in first and exc.code == "conflict"
            continue
        assert p not in first
        first[p] = v
        emitted.extend(_apply(s, emits, 2000.0 + i))
    counts, total = tally(s.polls["q"])
    expected: dict[str, int] = {}
    for v in first.values():
        expected[str(v)] = expected.get(str(v), 0) + 1
    assert counts == expected and total == len(first)
    for x in emitted:
        assert isinstance(x.event, e.BallotCast) and x.aud == "staff"
        fields = {k: getattr(x.event, k) for k in x.event.__struct_fields__}
        assert not any(p in str(val) for val in fields.values() for p in PEOPLE)
    seals = [x.event.seal for x in emitted]
    assert len(set(seals)) == len(seals)
