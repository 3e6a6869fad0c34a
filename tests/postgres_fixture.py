"""A real PostgreSQL for the tests: Debian's binaries, a cluster in a temporary folder.

`./run-tests` installs the `postgresql` package where it is missing; a
machine without it fails these tests with the reason, rather than skipping
them as if they had passed.
"""
from __future__ import annotations

import pytest

from server.record.pgserver import LocalPostgres, PostgresUnavailable


def _started(**kw) -> LocalPostgres:
    # in /tmp itself: pytest's own folders are closed to the postgres user
    pg = LocalPostgres(**kw)
    try:
        return pg.start()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL could not start: {exc}")


@pytest.fixture(scope="session")
def postgres():
    pg = _started()
    yield pg
    pg.stop()


@pytest.fixture
def own_postgres():
    """A cluster for one test alone, which may restart it, stop it or cut it off."""
    pg = _started()
    yield pg
    pg.stop()
