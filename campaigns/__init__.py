"""Reliability and security campaigns: repeatable, seeded, bounded.

`python -m campaigns crash|fuzz|slow|access|tamper [--quick] [--seed N]` runs
one campaign against a real server on loopback and prints its figures as one
JSON line at the end; the exit status is non-zero on any failure.
"""
