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
import time


class NamespaceUnavailable(RuntimeError):
    pass


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(args)}: {r.stderr.strip()}")


def _settled(name: str, within: float = 5.0) -> None:
    """Waits until both ends of the pair are up, so nothing about the network
    changes after the test has begun."""
    deadline = time.monotonic() + within
    while True:
        r = subprocess.run(["ip", "-n", name, "-o", "link", "show", "up"], capture_output=True, text=True)
        if all(f" {dev}@" in r.stdout and "LOWER_UP" in r.stdout.split(f" {dev}@", 1)[1].split("\n", 1)[0]
               for dev in ("v0", "v1")):
            return
        if time.monotonic() > deadline:
            raise NamespaceUnavailable(f"the veth pair in {name} did not come up: {r.stdout.strip()}")
        time.sleep(0.05)


@contextlib.contextmanager
def namespace():
    if os.geteuid() != 0:
        raise NamespaceUnavailable("network namespaces need root here (CI runs as root)")
    name = f"gcm-{secrets.token_hex(3)}"
    _ip("netns", "add", name)
    try:
        # No IPv6 here: its link-local addresses would arrive a second or two after the
        # links come up, and Chromium takes a new address for a network change and fails
        # whatever the page is loading at that moment (ERR_NETWORK_CHANGED).
        for key in ("all", "default"):
            r = subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                                f"net.ipv6.conf.{key}.disable_ipv6=1"], capture_output=True, text=True)
            if r.returncode != 0:
                raise NamespaceUnavailable(f"sysctl in the namespace: {r.stderr.strip()}")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        _ip("-n", name, "addr", "add", "10.77.0.1/24", "dev", "v0")
        _ip("-n", name, "addr", "add", "10.77.0.2/24", "dev", "v1")
        _ip("-n", name, "link", "set", "v0", "up")
        _ip("-n", name, "link", "set", "v1", "up")
        _settled(name)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@contextlib.contextmanager
def linked_namespace(prefix: str = "10.78.0"):
    """A namespace joined to this one by a veth pair: `v0` inside it (PREFIX.1), its peer
    in this namespace (PREFIX.2). What runs inside reaches this side only over the pair,
    so taking `v0` down cuts it off as a lost network would (packets go nowhere, nobody
    answers), which loopback cannot show. Yields (namespace, address inside, address here)."""
    if os.geteuid() != 0:
        raise NamespaceUnavailable("network namespaces need root here (CI runs as root)")
    name = f"gcp-{secrets.token_hex(3)}"
    peer = f"gp{secrets.token_hex(3)}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", peer)
        _ip("-n", name, "link", "set", peer, "netns", "1")
        _ip("-n", name, "addr", "add", f"{prefix}.1/24", "dev", "v0")
        _ip("addr", "add", f"{prefix}.2/24", "dev", peer)
        _ip("-n", name, "link", "set", "v0", "up")
        _ip("link", "set", peer, "up")
        deadline = time.monotonic() + 5
        while "LOWER_UP" not in subprocess.run(["ip", "-n", name, "-o", "link", "show", "v0"],
                                               capture_output=True, text=True).stdout:
            if time.monotonic() > deadline:
                raise NamespaceUnavailable("the veth pair did not come up")
            time.sleep(0.05)
        yield name, f"{prefix}.1", f"{prefix}.2"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", peer], capture_output=True)
