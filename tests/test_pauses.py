"""The collector policy of a server process (server/pauses.py)."""
from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from server import pauses


class Node:
    def __init__(self):
        self.other = None


def cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


@pytest.mark.asyncio
async def test_after_a_full_collection_the_survivors_are_frozen_and_a_thaw_frees_frozen_cycles():
    before = gc.get_threshold()
    policy = pauses.install(thaw_every=3600)
    try:
        assert gc.get_threshold()[0] == pauses.YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0            # what start-up built is out of sight
        keep = [Node() for _ in range(1000)]        # long-lived objects made after start
        gc.collect()                                # a full pass...
        await asyncio.sleep(0)                      # ...and the loop freezes what survived
        assert policy.freezes == 1
        frozen = gc.get_freeze_count()
        assert frozen >= len(keep)
        assert not any(o is keep[0] for o in gc.get_objects(2))

        # a cycle frozen while alive is not collected once dropped, until the next thaw
        garbage = cycle()
        gc.collect()
        await asyncio.sleep(0)
        assert policy.freezes == 2
        alive = weakref.ref(garbage)
        del garbage
        gc.collect()
        await asyncio.sleep(0)
        assert alive() is not None and policy.freezes == 3
        policy.thaw_every = 0                       # time for a thaw
        gc.collect()
        await asyncio.sleep(0)
        assert policy.thaws == 1 and gc.get_freeze_count() == 0
        policy.thaw_every = 3600
        gc.collect()                                # the first full pass after a thaw sees it
        assert alive() is None
        await asyncio.sleep(0)
        assert policy.freezes == 4                  # and the policy goes on freezing
    finally:
        policy.uninstall()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


@pytest.mark.asyncio
async def test_enough_ended_connections_bring_a_thaw_before_the_hour():
    policy = pauses.install(thaw_every=3600, thaw_after_closed=3)
    try:
        gc.collect()
        await asyncio.sleep(0)
        assert policy.freezes == 1 and policy.thaws == 0
        for _ in range(2):
            pauses.connection_closed()
        gc.collect()
        await asyncio.sleep(0)
        assert policy.thaws == 0 and policy.freezes == 2      # two ended: not yet
        pauses.connection_closed()
        gc.collect()
        await asyncio.sleep(0)
        assert policy.thaws == 1 and policy.closed == 0 and gc.get_freeze_count() == 0
    finally:
        policy.uninstall()
    pauses.connection_closed()                                 # no policy: nothing to count, no error
    assert pauses._current is None


@pytest.mark.asyncio
async def test_the_gateway_counts_each_ended_connection(tmp_path):
    import secrets

    from server.app import EmbeddedServer
    from server.client import SessionClient
    srv = await EmbeddedServer(str(tmp_path / "r.db"), secrets.token_bytes(32)).start()
    policy = pauses.install(thaw_after_closed=10_000)
    try:
        for i in range(3):
            cl = SessionClient(srv.url, srv.token("r1", "observer", f"o{i}", "O"))
            await cl.connect()
            await cl.close()
        for _ in range(100):
            if policy.closed == 3:
                break
            await asyncio.sleep(0.02)
        assert policy.closed == 3
    finally:
        policy.uninstall()
        await srv.stop()


@pytest.mark.asyncio
async def test_what_lives_through_a_middle_pass_is_frozen_except_between_a_thaw_and_its_full_walk():
    policy = pauses.install(thaw_every=3600, thaw_after_closed=1)
    try:
        keep = [Node() for _ in range(1000)]      # a crowd's objects, arrived after start
        frozen = gc.get_freeze_count()
        gc.collect(1)
        assert policy.young_freezes == 1 and gc.get_freeze_count() >= frozen + 1000
        policy.closed = 1
        gc.collect()                              # a full pass; then the thaw is due
        await asyncio.sleep(0)
        assert policy.thaws == 1
        gc.collect(1)                             # no freeze until the thaw's full walk is done
        assert policy.young_freezes == 1
        gc.collect()
        gc.collect(1)
        assert policy.young_freezes == 2
        del keep
    finally:
        policy.uninstall()
