"""A server cut off from its PostgreSQL mid-evening says so, and writes again once the network is back.

The database machine lost, or the network to it: nothing comes back, not even a
reset. Loopback cannot show that, so the server runs in a network namespace of its
own (tests/netns.py) and reaches PostgreSQL over a veth pair, which the driver
(tests/partition_driver.py) takes down and up. Before, the commit under way waited
for TCP to give up (a quarter of an hour) and every room of the server with it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from server import tokens
from server.record import open_record
from server.record.pgserver import LocalPostgres, PostgresUnavailable
from tests.conftest import ROOT
from tests.netns import NamespaceUnavailable, linked_namespace


def test_a_server_cut_off_from_its_database_answers_unavailable_and_recovers(tmp_path):
    secret_file = str(tmp_path / "secret")
    tokens.load_secret(secret_file)
    try:
        with linked_namespace() as (ns, _inside, here):
            pg = LocalPostgres(listen=("127.0.0.1", here))
            try:
                pg.start()
            except PostgresUnavailable as exc:
                pytest.fail(f"PostgreSQL could not start: {exc}")
            try:
                url = pg.create_database().replace("@127.0.0.1:", f"@{here}:")
                env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
                r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.partition_driver",
                                    url, secret_file], cwd=ROOT, env=env, capture_output=True, text=True,
                                   timeout=180)
                assert r.returncode == 0, r.stderr[-3000:]
                out = json.loads(r.stdout.strip().splitlines()[-1])
                assert "error" not in out, out
                verified = open_record(url, readonly=True).verify().ok
            finally:
                pg.stop()
    except NamespaceUnavailable as exc:
        pytest.fail(str(exc))
    assert out["before"] == "Ack", out
    # answered, not left hanging: 'unavailable' within the bound on an unanswered write
    assert out["cut_off_answer"] == "unavailable", out
    assert out["cut_off_answer_s"] < 20, out
    # a proxy keeps it (and its sessions) through a short outage, then takes it out
    assert out["health_at_first"] == 200, out
    assert 12 <= out["health_503_after_s"] < 30, out
    # once the network is back the room takes writes again, and nobody was cut off
    assert out["writes_again_s"] is not None and out["writes_again_s"] < 20, out
    assert out["health_after"] == 200, out
    assert not out["facilitator_cut_off"], out
    assert out["tracebacks"] == 0, out
    assert verified
