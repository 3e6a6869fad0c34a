"""`session-server serve` with shorter limits, for the quick campaigns.

The same EmbeddedServer and CLI path as `session-server serve`; only the
gateway's `Limits` change (a 1 s hello timeout instead of 10 s, say), so a
quick campaign need not wait out production timeouts. Usage:
    python -m campaigns.serve [--hello-timeout S] [--send-queue N] [--rate R] [--burst B]
        [--ping-interval S --ping-timeout S]
        serve --host H --port P --db F --secret-file F
"""
from __future__ import annotations

import argparse
import sys

from server import app, cli
from server.gateway import Limits


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="campaigns.serve")
    p.add_argument("--hello-timeout", type=float)
    p.add_argument("--send-queue", type=int)
    p.add_argument("--rate", type=float)
    p.add_argument("--burst", type=float)
    p.add_argument("--garbage", type=int)
    p.add_argument("--ping-interval", type=float, help="keepalive interval (Limits.ping_interval)")
    p.add_argument("--ping-timeout", type=float)
    a, rest = p.parse_known_args(argv)
    kw = {k: v for k, v in vars(a).items() if v is not None}
    limits = Limits(**kw)

    class Limited(app.EmbeddedServer):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("limits", limits)
            super().__init__(*args, **kwargs)

    app.EmbeddedServer = Limited     # cmd_serve looks it up at call time
    return cli.main(rest)


if __name__ == "__main__":
    sys.exit(main())
