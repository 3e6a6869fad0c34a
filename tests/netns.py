"""A network namespace of the test's own, with a veth pair inside it.

Janus gathers no ICE candidates on loopback, so media tests run Janus, the
server and Chromium inside a namespace where a veth pair gives them a real
interface (`v0`, 10.77.0.1, and its peer `v1`, 10.77.0.2). Nothing leaves the
namespace. Needs root (CI runs as root).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import subprocess


class NamespaceUnavailable(RuntimeError):
    pass


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(args)}: {r.stderr.strip()}")


@contextlib.contextmanager
def namespace():
    if os.geteuid() != 0:
        raise NamespaceUnavailable("network namespaces need root here (CI runs as root)")
    name = f"gcm-{secrets.token_hex(3)}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        _ip("-n", name, "addr", "add", "10.77.0.1/24", "dev", "v0")
        _ip("-n", name, "addr", "add", "10.77.0.2/24", "dev", "v1")
        _ip("-n", name, "link", "set", "v0", "up")
        _ip("-n", name, "link", "set", "v1", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
