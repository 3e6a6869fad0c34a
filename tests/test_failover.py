"""Three servers behind HAProxy on one PostgreSQL record: a killed owner's rooms come back.

The failover campaign's short version, on the real path: Debian's HAProxy
running the shipped deploy/haproxy.cfg, three `session-server serve`
processes, busy groups on real websockets through the proxy.
"""
from __future__ import annotations

import argparse

from campaigns import failover


def test_a_killed_owner_s_rooms_are_served_again_and_the_others_never_notice(capsys):
    args = argparse.Namespace(quick=True, seed=3, kills=2, rooms=4, participants=3)
    rc = failover.run(args)
    out = capsys.readouterr().out
    import json
    fig = json.loads(out.strip().splitlines()[-1])
    assert rc == 0 and fig["failures"] == 0, fig
    assert fig["kills"] == 2 and fig["restarts"] == 2
    assert fig["spared_rooms_checked"] >= 1           # some rooms lived on servers that were not killed
    assert fig["received_events_checked"] > 500
    served = fig["served_again_s"]
    assert served["n"] >= 2 and served["max"] < 5.0, served
