"""Participant join links: `BASE_URL/#t=TOKEN`.

The token rides in the fragment, which a browser keeps to itself: it never
reaches the server's log, a proxy's log or a Referer header. The page reads
it, then takes it out of the address bar.
"""
from __future__ import annotations

import re
import secrets
import time
from urllib.parse import unquote, urlsplit, urlunsplit

from server import tokens

DEFAULT_TTL = 12 * 3600


def page_url(base_url: str) -> str:
    """The page's address for a server address given as http(s) or ws(s)."""
    parts = urlsplit(base_url.strip())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"a base URL looks like http://host:port, not {base_url!r}")
    path = parts.path if parts.path not in ("", "/join") else "/"
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def new_person_id(name: str) -> str:
    """An id for a participant invited without one: readable, and unique."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "p"
    return f"{slug}-{secrets.token_hex(3)}"


def invite_link(secret: bytes, room: str, name: str, person_id: str | None, base_url: str,
                ttl: float = DEFAULT_TTL) -> str:
    """A participant's link to the page, carrying a signed participant token."""
    if not name.strip():
        raise ValueError("a participant needs a display name")
    if ttl <= 0:
        raise ValueError("the link's lifetime must be positive")
    claims = tokens.Claims(room=room, role="participant", id=person_id or new_person_id(name),
                           name=name.strip(), exp=time.time() + ttl)
    return f"{page_url(base_url)}#t={tokens.sign(secret, claims)}"


def token_from_link(text: str) -> str:
    """The token in a pasted join link (or the text itself, when it is a bare token)."""
    text = text.strip()
    if "#" in text:
        frag = text.split("#", 1)[1]
        for part in frag.split("&"):
            if part.startswith("t="):
                return unquote(part[2:])
        raise ValueError("that link carries no token (#t=...)")
    return text


def websocket_url(url: str) -> str:
    """The websocket address of a server given by its page or websocket URL."""
    parts = urlsplit(url.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"expected a server address such as ws://host:port or http://host:port, not {url!r}")
    return urlunsplit((scheme, parts.netloc, "/", "", ""))
