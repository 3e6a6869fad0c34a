"""Tests for the breakout planner.

The property tests compare the planner with a deliberately naive exhaustive
search: it shares no code with the planner, so agreeing with it on every
small group is evidence the planner never rejects a plan that exists.
"""

from __future__ import annotations

import itertools
import random
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from server.engine.breakout_plan import PlanConflict, plan_breakouts

# --- an independent oracle -------------------------------------------------


def expected_sizes(n: int, rooms: int | None, size: int | None) -> list[int]:
    if n == 0:
        return []
    k = rooms if rooms is not None else (n + size - 1) // size
    k = min(k, n)
    return sorted((n // k + (1 if i < n % k else 0) for i in range(k)), reverse=True)


def rules_kept(plan: list[list[str]], together, apart) -> bool:
    room_of = {p: r for r, room in enumerate(plan) for p in room}
    for group in together:
        present = {p for p in group if p in room_of}
        if len({room_of[p] for p in present}) > 1:
            return False
    for group in apart:
        present = {p for p in group if p in room_of}
        for a, b in itertools.combinations(present, 2):
            if room_of[a] == room_of[b]:
                return False
    return True


def brute_force(people: list[str], sizes: list[int], together, apart) -> list[list[str]] | None:
    """Try every way to split people into len(sizes) unlabelled rooms."""
    if not people:
        return [] if not sizes else None
    k, biggest = len(sizes), max(sizes)
    rooms: list[list[str]] = []

    def place(i: int) -> list[list[str]] | None:
        if i == len(people):
            if sorted(map(len, rooms), reverse=True) == sizes and rules_kept(rooms, together, apart):
                return [list(r) for r in rooms]
            return None
        for room in rooms:
            if len(room) < biggest:
                room.append(people[i])
                found = place(i + 1)
                room.pop()
                if found is not None:
                    return found
        if len(rooms) < k:
            rooms.append([people[i]])
            found = place(i + 1)
            rooms.pop()
            if found is not None:
                return found
        return None

    return place(0)


def assert_valid(plan, people, rooms, size, together, apart):
    flat = [p for room in plan for p in room]
    assert sorted(flat) == sorted(people), "everyone exactly once"
    assert len(flat) == len(set(flat))
    assert [len(r) for r in plan] == expected_sizes(len(people), rooms, size)
    order = {p: i for i, p in enumerate(people)}
    for room in plan:
        assert room, "no empty rooms"
        assert [order[p] for p in room] == sorted(order[p] for p in room), "room keeps join order"
    assert rules_kept(plan, together, apart)


def named_rules(exc: PlanConflict):
    together = [list(ids) for kind, ids in exc.rules if kind == "together"]
    apart = [list(ids) for kind, ids in exc.rules if kind == "apart"]
    return together, apart


# --- strategies ------------------------------------------------------------


@st.composite
def scenarios(draw, max_people: int):
    n = draw(st.integers(0, max_people))
    people = [f"p{i}" for i in range(n)]
    draw(st.randoms(use_true_random=False)).shuffle(people)
    pool = people + ["ghost1", "ghost2"]  # absent ids that rules may still mention
    rule = st.lists(st.sampled_from(pool), min_size=1, max_size=4)
    together = draw(st.lists(rule, max_size=4))
    apart = draw(st.lists(rule, max_size=6))
    if draw(st.booleans()):
        rooms, size = draw(st.integers(1, max(1, n + 1))), None
    else:
        rooms, size = None, draw(st.integers(1, max(1, n)))
    seed = draw(st.none() | st.integers(0, 2**32))
    return people, rooms, size, together, apart, seed


# --- properties ------------------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_people=8))
def test_agrees_with_exhaustive_search(case):
    people, rooms, size, together, apart, seed = case
    sizes = expected_sizes(len(people), rooms, size)
    oracle = brute_force(people, sizes, together, apart)
    try:
        plan = plan_breakouts(people, rooms=rooms, size=size, together=together, apart=apart, seed=seed)
    except PlanConflict as exc:
        event(f"rejected: {exc.kind}")
        assert oracle is None, f"rejected ({exc}) but a plan exists: {oracle}"
        # The rules the error names must conflict on their own, or the
        # facilitator would be sent to fix the wrong thing.
        t, a = named_rules(exc)
        assert exc.rules
        assert brute_force(people, sizes, t, a) is None
        for _, ids in exc.rules:
            for p in ids:
                assert p in people, "only present people are named"
        return
    event("planned")
    assert oracle is not None, "planner found a plan the exhaustive search missed"
    assert_valid(plan, people, rooms, size, together, apart)


def _connected(people, together, a, b) -> bool:
    present = set(people)
    reach, frontier = {a}, [a]
    while frontier:
        x = frontier.pop()
        for group in together:
            members = [p for p in group if p in present]
            if x in members:
                for y in members:
                    if y not in reach:
                        reach.add(y)
                        frontier.append(y)
    return b in reach


@st.composite
def tight_scenarios(draw):
    """Few rooms and many apart pairs: the cases where packing, not an
    outright contradiction, decides, which random rules rarely reach."""
    n = draw(st.integers(3, 8))
    people = [f"p{i}" for i in range(n)]
    pairs = list(itertools.combinations(people, 2))
    apart = draw(st.lists(st.sampled_from(pairs), min_size=n // 2, max_size=16, unique=True))
    together = draw(st.lists(st.sampled_from(pairs), max_size=1))
    return people, draw(st.integers(2, 3)), None, together, apart, draw(st.integers(0, 99))


@settings(max_examples=400, deadline=None)
@given(tight_scenarios())
def test_tight_packing_agrees_with_exhaustive_search(case):
    people, rooms, size, together, apart, seed = case
    sizes = expected_sizes(len(people), rooms, size)
    oracle = brute_force(people, sizes, together, apart)
    try:
        plan = plan_breakouts(people, rooms=rooms, size=size, together=together, apart=apart, seed=seed)
    except PlanConflict as exc:
        event(f"rejected: {exc.kind}")
        assert oracle is None, f"rejected ({exc}) but a plan exists: {oracle}"
        t, a = named_rules(exc)
        assert brute_force(people, sizes, t, a) is None
        if exc.kind == "no_assignment":
            # Small conflicts are shrunk fully: every named rule is needed.
            for i in range(len(exc.rules)):
                rest = exc.rules[:i] + exc.rules[i + 1:]
                t = [list(ids) for kind, ids in rest if kind == "together"]
                a = [list(ids) for kind, ids in rest if kind == "apart"]
                assert brute_force(people, sizes, t, a) is not None
        return
    event("planned")
    assert oracle is not None
    assert_valid(plan, people, rooms, size, together, apart)


@settings(max_examples=300, deadline=None)
@given(scenarios(max_people=15))
def test_larger_groups_keep_every_rule(case):
    people, rooms, size, together, apart, seed = case
    try:
        plan = plan_breakouts(people, rooms=rooms, size=size, together=together, apart=apart, seed=seed)
    except PlanConflict as exc:
        t, a = named_rules(exc)
        if exc.kind == "contradiction":
            x, y = a[0]
            assert x in str(exc) and y in str(exc)
            assert _connected(people, together, x, y)
        elif exc.kind == "too_big":
            group = t[0]
            assert len(group) > expected_sizes(len(people), rooms, size)[0]
            assert all(_connected(people, together, group[0], p) for p in group)
        else:
            assert exc.kind == "no_assignment"
            assert "no assignment keeps every rule" in str(exc)
        return
    assert_valid(plan, people, rooms, size, together, apart)


@settings(max_examples=100, deadline=None)
@given(scenarios(max_people=12))
def test_same_seed_same_plan(case):
    people, rooms, size, together, apart, seed = case

    def run():
        try:
            return plan_breakouts(people, rooms=rooms, size=size, together=together, apart=apart, seed=seed)
        except PlanConflict as exc:
            return str(exc)

    assert run() == run()


# --- examples --------------------------------------------------------------

TEN = [f"p{i}" for i in range(1, 11)]


def test_ten_people_size_three():
    plan = plan_breakouts(TEN, size=3)
    assert [len(r) for r in plan] == [3, 3, 2, 2]
    assert sorted(p for r in plan for p in r) == sorted(TEN)


def test_rooms_count_and_balance():
    assert [len(r) for r in plan_breakouts(TEN, rooms=3)] == [4, 3, 3]
    assert [len(r) for r in plan_breakouts(TEN, rooms=1)] == [10]


def test_couple_kept_together():
    for seed in range(30):
        plan = plan_breakouts(TEN, size=2, together=[["p3", "p8"]], seed=seed)
        assert ["p3", "p8"] in plan


def test_two_people_kept_apart():
    for seed in range(30):
        plan = plan_breakouts(TEN, rooms=2, apart=[["p1", "p2"]], seed=seed)
        assert not any({"p1", "p2"} <= set(r) for r in plan)


def test_together_is_transitive():
    plan = plan_breakouts(TEN, rooms=3, together=[["p1", "p2"], ["p2", "p3"]], apart=[["p1", "p4"]])
    room = next(r for r in plan if "p1" in r)
    assert {"p1", "p2", "p3"} <= set(room) and "p4" not in room


def test_same_seed_is_deterministic_and_seeds_vary():
    first = plan_breakouts(TEN, size=3, seed=42)
    assert plan_breakouts(TEN, size=3, seed=42) == first
    assert plan_breakouts(TEN, size=3) == plan_breakouts(TEN, size=3, seed=0)
    distinct = {tuple(map(tuple, plan_breakouts(TEN, size=3, seed=s))) for s in range(20)}
    assert len(distinct) > 10


def test_contradiction_names_both_people_and_the_link():
    with pytest.raises(PlanConflict) as info:
        plan_breakouts(TEN, size=3, together=[["p1", "p3"], ["p3", "p2"]], apart=[["p1", "p2"]])
    assert str(info.value) == "cannot keep p1 and p2 apart: they must be together (via p3)"
    assert info.value.kind == "contradiction"


def test_direct_contradiction():
    # Named in the order the apart rule gives them.
    with pytest.raises(PlanConflict, match=r"^cannot keep p6 and p5 apart: they must be together$"):
        plan_breakouts(TEN, size=3, together=[["p5", "p6"]], apart=[["p6", "p5"]])


def test_together_group_too_big():
    with pytest.raises(PlanConflict) as info:
        plan_breakouts(TEN, size=3, together=[["p1", "p2"], ["p3", "p4"], ["p2", "p3"]])
    assert str(info.value) == "cannot fit together group p1, p2, p3, p4 in rooms of at most 3"


def test_packing_failure_names_the_apart_rule():
    # Four people who must all be apart cannot share three rooms.
    with pytest.raises(PlanConflict) as info:
        plan_breakouts(TEN, rooms=3, apart=[["p1", "p2", "p3", "p4"], ["p5", "p6"]])
    msg = str(info.value)
    assert msg.startswith("no assignment keeps every rule")
    assert "apart p1, p2, p3, p4" in msg
    assert "p5" not in msg, "rules that are not part of the conflict are left out"


def test_packing_failure_from_couples_alone():
    six = TEN[:6]
    with pytest.raises(PlanConflict, match="no assignment keeps every rule"):
        plan_breakouts(six, size=3, together=[["p1", "p2"], ["p3", "p4"], ["p5", "p6"]])


def test_absent_ids_are_ignored():
    present = ["p1", "p2", "p3", "p4"]
    plan = plan_breakouts(present, size=2, together=[["p1", "gone"], ["gone", "p2"]],
                          apart=[["p3", "away"], ["gone", "away"]])
    # "gone" would link p1 and p2 only through someone not here tonight.
    assert [len(r) for r in plan] == [2, 2]
    plan = plan_breakouts(present, size=2, together=[["p1", "p2", "absent1", "absent2"]])
    assert ["p1", "p2"] in plan


def test_more_rooms_than_people_and_empty_group():
    assert plan_breakouts(["a", "b", "c"], rooms=5) == [["a"], ["b"], ["c"]]
    assert plan_breakouts([], rooms=3) == []
    assert plan_breakouts([], size=2) == []


def test_rooms_largest_first_members_in_join_order():
    people = ["zed", "amy", "kim", "bob", "eve"]
    for seed in range(20):
        plan = plan_breakouts(people, rooms=2, seed=seed)
        assert [len(r) for r in plan] == [3, 2]
        for room in plan:
            assert room == [p for p in people if p in room]


@pytest.mark.parametrize("kwargs", [{}, {"rooms": 2, "size": 3}, {"rooms": 0}, {"size": 0},
                                    {"rooms": -1}, {"size": 2.5}, {"rooms": True}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        plan_breakouts(TEN, **kwargs)


def test_duplicate_people_rejected():
    with pytest.raises(ValueError, match="p1"):
        plan_breakouts(["p1", "p2", "p1"], rooms=2)


def test_fifteen_people_is_fast():
    rng = random.Random(2024)
    people = [f"p{i}" for i in range(15)]
    worst = 0.0
    for trial in range(300):
        together = [rng.sample(people, rng.randint(2, 3)) for _ in range(rng.randint(0, 3))]
        apart = [rng.sample(people, rng.randint(2, 4)) for _ in range(rng.randint(0, 10))]
        kwargs = {"rooms": rng.randint(2, 7)} if trial % 2 else {"size": rng.randint(2, 5)}
        start = time.perf_counter()
        try:
            plan_breakouts(people, together=together, apart=apart, seed=trial, **kwargs)
        except PlanConflict:
            pass
        worst = max(worst, time.perf_counter() - start)
    # Target is well under 50 ms; the bound is loose so a busy CI box does not flake.
    assert worst < 0.25, f"slowest plan took {worst * 1000:.1f} ms"
