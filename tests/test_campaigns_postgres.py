"""The tamper campaign's short version on PostgreSQL: every change caught."""
from __future__ import annotations

import argparse
import json

from campaigns import tamper


def test_every_tampering_of_a_postgresql_record_is_caught(capsys):
    rc = tamper.run(argparse.Namespace(quick=True, seed=5, trials=40, backend="postgresql"))
    fig = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and fig["failures"] == 0, fig
    assert fig["trials"] == 40 and fig["caught"] == 40
    assert fig["cli_runs"] >= 4
    for kind in ("column", "delete"):
        assert fig.get(f"trials_{kind}", 0) > 0, fig
