"""python -m campaigns crash|fuzz|slow|access|tamper|faults [--quick] [--seed N] ..."""
from __future__ import annotations

import argparse
import importlib
import sys

CAMPAIGNS = ("crash", "fuzz", "slow", "access", "tamper", "faults", "failover")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m campaigns",
                                description="Reliability and security campaigns against a real server on loopback.")
    sub = p.add_subparsers(dest="campaign", required=True)
    for name in CAMPAIGNS:
        mod = importlib.import_module(f"campaigns.{name}")
        s = sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0])
        s.add_argument("--quick", action="store_true", help="the short version (as in the test suite)")
        s.add_argument("--seed", type=int, default=1)
        mod.add_arguments(s)
        s.set_defaults(mod=mod)
    a = p.parse_args(argv)
    return a.mod.run(a)


if __name__ == "__main__":
    sys.exit(main())
