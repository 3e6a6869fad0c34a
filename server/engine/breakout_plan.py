"""Breakout-room planner: split the present participants into balanced rooms
that honour keep-together and keep-apart rules.

Pure and standard-library only, so the session engine can call it inline and
tests can check it exhaustively.

The search works on "blocks" (together groups after merging, plus everyone
else as a block of one) rather than on people, because a block always moves
as a whole; that keeps the search space small enough to be complete for the
group sizes we see (at most 15).
"""

from __future__ import annotations

import random
from collections import deque
from typing import Iterable, Sequence

__all__ = ["PlanConflict", "plan_breakouts"]


class PlanConflict(Exception):
    """Raised when no plan can keep every rule; str(exc) names the rule that cannot be kept,
    e.g. "cannot keep p1 and p2 apart: they must be together (via p3)" or
    "cannot fit together group p1, p2, p3, p4 in rooms of at most 3".

    ``kind`` is "contradiction", "too_big" or "no_assignment"; ``rules`` lists
    the (kind, ids) rules that together cannot be kept, so a caller can point
    the facilitator at them without parsing the message.
    """

    def __init__(self, message: str, *, kind: str, rules: Sequence[tuple[str, tuple[str, ...]]]):
        super().__init__(message)
        self.kind = kind
        self.rules = [(k, tuple(ids)) for k, ids in rules]


def plan_breakouts(people: list[str], *, rooms: int | None = None, size: int | None = None,
                   together: Iterable[Sequence[str]] = (), apart: Iterable[Sequence[str]] = (),
                   seed: int | None = None) -> list[list[str]]:
    """Return rooms (largest first, members in ``people`` order) or raise PlanConflict."""
    people = list(people)
    _check_args(people, rooms, size)
    n = len(people)
    if n == 0:
        return []
    if rooms is not None:
        k = rooms
    else:
        k = -(-n // size)
    # Empty rooms would just be noise for the facilitator to close again.
    k = min(k, n)
    big, small = -(-n // k), n // k
    capacities = [big] * (n % k) + [small] * (k - n % k)

    index = {p: i for i, p in enumerate(people)}
    rules = _present_rules(index, together, apart)
    rng = random.Random(0 if seed is None else seed)

    _check_contradictions(people, rules)
    _check_block_sizes(people, rules, big)

    assignment = _solve(n, capacities, rules, rng)
    if assignment is None:
        core = _minimal_core(n, capacities, rules)
        names = "; ".join(f"{kind} {', '.join(people[i] for i in ids)}" for kind, ids in core)
        sizes = ", ".join(str(c) for c in capacities)
        raise PlanConflict(
            f"no assignment keeps every rule in rooms of sizes {sizes}: {names}",
            kind="no_assignment",
            rules=[(kind, tuple(people[i] for i in ids)) for kind, ids in core],
        )

    plan = [sorted(room) for room in assignment]
    # Ties broken by earliest joiner so equal-sized rooms come out in a stable order.
    plan.sort(key=lambda room: (-len(room), room[0]))
    return [[people[i] for i in room] for room in plan]


def _check_args(people: list[str], rooms: int | None, size: int | None) -> None:
    if (rooms is None) == (size is None):
        raise ValueError("give exactly one of rooms (number of rooms) or size (people per room)")
    for name, value in (("rooms", rooms), ("size", size)):
        if value is None:
            continue
        # bool is an int subclass; True as a room count is almost surely a bug upstream.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if len(set(people)) != len(people):
        seen: set[str] = set()
        dupes = [p for p in people if p in seen or seen.add(p)]
        raise ValueError(f"people must be distinct; repeated: {', '.join(dict.fromkeys(dupes))}")


def _present_rules(index: dict[str, int], together: Iterable[Sequence[str]],
                   apart: Iterable[Sequence[str]]) -> list[tuple[str, tuple[int, ...]]]:
    """Rules as index tuples, restricted to present people.

    Absent ids are dropped because an absent partner must not block tonight's
    plan; rules left with fewer than two people constrain nothing.
    """
    out: list[tuple[str, tuple[int, ...]]] = []
    for kind, groups in (("together", together), ("apart", apart)):
        if isinstance(groups, (str, bytes)):
            raise ValueError(f"{kind} must be a list of id lists")
        for group in groups:
            if isinstance(group, (str, bytes)):
                raise ValueError(f"each {kind} rule must be a list of ids, got {group!r}")
            ids = tuple(dict.fromkeys(index[p] for p in group if p in index))
            if len(ids) >= 2:
                out.append((kind, ids))
    return out


def _blocks(n: int, rules: Sequence[tuple[str, tuple[int, ...]]]) -> list[int]:
    """Union-find over together rules; returns the root of each person."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for kind, ids in rules:
        if kind != "together":
            continue
        for other in ids[1:]:
            a, b = find(ids[0]), find(other)
            if a != b:
                # Smaller root wins so the result never depends on rule order quirks.
                parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(n)]


def _check_contradictions(people: list[str],
                          rules: Sequence[tuple[str, tuple[int, ...]]]) -> None:
    root = _blocks(len(people), rules)
    for kind, ids in rules:
        if kind != "apart":
            continue
        for x in range(len(ids)):
            for y in range(x + 1, len(ids)):
                a, b = ids[x], ids[y]
                if root[a] != root[b]:
                    continue
                path = _together_path(len(people), rules, a, b)
                via = path[1:-1]
                reason = f" (via {', '.join(people[i] for i in via)})" if via else ""
                chain = _chain_rules(rules, path)
                raise PlanConflict(
                    f"cannot keep {people[a]} and {people[b]} apart: they must be together{reason}",
                    kind="contradiction",
                    rules=[("apart", (people[a], people[b]))]
                    + [("together", tuple(people[i] for i in r)) for r in chain],
                )


def _together_path(n: int, rules: Sequence[tuple[str, tuple[int, ...]]], a: int, b: int) -> list[int]:
    """Shortest chain of together links from a to b, so the message can say why
    two people are bound together when no single rule names both."""
    adj: list[list[int]] = [[] for _ in range(n)]
    for kind, ids in rules:
        if kind == "together":
            for x in ids:
                adj[x].extend(y for y in ids if y != x)
    prev = {a: a}
    queue = deque([a])
    while queue:
        x = queue.popleft()
        if x == b:
            break
        for y in sorted(adj[x]):
            if y not in prev:
                prev[y] = x
                queue.append(y)
    path = [b]
    while path[-1] != a:
        path.append(prev[path[-1]])
    return path[::-1]


def _chain_rules(rules: Sequence[tuple[str, tuple[int, ...]]], path: list[int]) -> list[tuple[int, ...]]:
    chain: list[tuple[int, ...]] = []
    for x, y in zip(path, path[1:]):
        for kind, ids in rules:
            if kind == "together" and x in ids and y in ids:
                if ids not in chain:
                    chain.append(ids)
                break
    return chain


def _check_block_sizes(people: list[str],
                       rules: Sequence[tuple[str, tuple[int, ...]]], largest: int) -> None:
    root = _blocks(len(people), rules)
    members: dict[int, list[int]] = {}
    for i, r in enumerate(root):
        members.setdefault(r, []).append(i)
    for r in sorted(members):
        group = members[r]
        if len(group) > largest:
            ids = tuple(people[i] for i in group)
            raise PlanConflict(
                f"cannot fit together group {', '.join(ids)} in rooms of at most {largest}",
                kind="too_big",
                rules=[("together", ids)],
            )


class _OutOfBudget(Exception):
    pass


class _Budget:
    """Search nodes left; shared across calls so a whole job stays bounded."""

    def __init__(self, nodes: int):
        self.left = nodes


def _solve(n: int, capacities: list[int], rules: Sequence[tuple[str, tuple[int, ...]]],
           rng: random.Random | None, budget: _Budget | None = None) -> list[list[int]] | None:
    """Complete backtracking search; returns rooms as lists of person indices,
    or None when no assignment exists. ``rng`` only shuffles the order in which
    choices are tried, so it changes which plan is found, never whether one is.
    With a ``budget`` it raises _OutOfBudget once that runs out instead of running long.
    """
    root = _blocks(n, rules)
    block_of: dict[int, int] = {}
    members: list[list[int]] = []
    for i, r in enumerate(root):
        if r not in block_of:
            block_of[r] = len(members)
            members.append([])
        members[block_of[r]].append(i)
    m = len(members)
    bsize = [len(g) for g in members]
    bidx = [block_of[r] for r in root]
    if max(bsize) > max(capacities):
        return None

    conflict = [0] * m
    for kind, ids in rules:
        if kind != "apart":
            continue
        for x in ids:
            for y in ids:
                bx, by = bidx[x], bidx[y]
                if bx != by:
                    conflict[bx] |= 1 << by
                elif x != y:
                    return None  # apart inside one together block

    # A random priority per block breaks ties in the variable order; together
    # with shuffled room order it is what makes different seeds differ.
    priority = list(range(m))
    if rng is not None:
        rng.shuffle(priority)

    k = len(capacities)
    remaining = list(capacities)
    content = [0] * k  # bitmask of blocks in each room
    failed: set[tuple[tuple[int, int], ...]] = set()
    full = (1 << m) - 1

    def options(b: int) -> list[int]:
        """Rooms block b could go into now. Empty rooms of equal capacity are
        interchangeable, so only the first of each is offered."""
        out = []
        seen_empty: set[int] = set()
        for r in range(k):
            if remaining[r] < bsize[b] or content[r] & conflict[b]:
                continue
            if content[r] == 0:
                if remaining[r] in seen_empty:
                    continue
                seen_empty.add(remaining[r])
            out.append(r)
        return out

    def search(placed: int) -> bool:
        if placed == full:
            return True
        # Rooms are interchangeable apart from their capacity and contents, so
        # a failed sub-search is identified by that multiset alone.
        key = tuple(sorted(zip(capacities, content)))
        if key in failed:
            return False
        if budget is not None:
            budget.left -= 1
            if budget.left < 0:
                raise _OutOfBudget
        # Every room must end up exactly full, so a room that the people still
        # allowed into it cannot fill is already a dead end.
        for r in range(k):
            if remaining[r]:
                room_mask = content[r]
                can_join = 0
                for b in range(m):
                    if not (placed >> b & 1) and not (conflict[b] & room_mask) and bsize[b] <= remaining[r]:
                        can_join += bsize[b]
                if can_join < remaining[r]:
                    failed.add(key)
                    return False
        best: int | None = None
        best_rank: tuple[int, int, int, int] | None = None
        best_opts: list[int] = []
        for b in range(m):
            if placed >> b & 1:
                continue
            opts = options(b)
            if not opts:
                failed.add(key)
                return False
            # Fewest choices first exposes dead ends early; among equals the
            # biggest block, then the one with most unplaced adversaries
            # (they are what makes later choices run out).
            rank = (len(opts), -bsize[b], -bin(conflict[b] & ~placed).count("1"), -priority[b])
            if best_rank is None or rank < best_rank:
                best, best_rank, best_opts = b, rank, opts
        assert best is not None
        if rng is not None:
            rng.shuffle(best_opts)
        for r in best_opts:
            remaining[r] -= bsize[best]
            content[r] |= 1 << best
            if search(placed | 1 << best):
                return True
            remaining[r] += bsize[best]
            content[r] &= ~(1 << best)
        failed.add(key)
        return False

    if not search(0):
        return None
    rooms_out: list[list[int]] = []
    for r in range(k):
        people_in = [i for b in range(m) if content[r] >> b & 1 for i in members[b]]
        rooms_out.append(people_in)
    return rooms_out


def _minimal_core(n: int, capacities: list[int],
                  rules: list[tuple[str, tuple[int, ...]]]) -> list[tuple[str, tuple[int, ...]]]:
    """Shrink the rule list to one where every rule is needed for the conflict,
    so the facilitator is told which rules clash rather than handed all of them."""
    core = list(rules)
    budget = _Budget(_CORE_BUDGET)
    i = 0
    while i < len(core):
        trial = core[:i] + core[i + 1:]
        try:
            dropped = _solve(n, capacities, trial, None, budget) is None
        except _OutOfBudget:
            # A rule is only dropped once the rest is proven to conflict, so
            # stopping here still names a set that truly conflicts, just maybe
            # not a minimal one; better than keeping the facilitator waiting.
            break
        if dropped:
            core = trial
        else:
            i += 1
    return core


# Search nodes allowed, over all trials, while shrinking a conflict to its core.
_CORE_BUDGET = 1000
