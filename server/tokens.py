"""Signed tokens: who you are, in which room, with which role, until when.

A token is `base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`,
where the payload is JSON with room, role, id, name and exp (Unix seconds).
It travels in the hello frame or an Authorization header, never in a URL
that a server log could keep (the participant page carries it in the
fragment, which browsers do not send).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

import msgspec

from protocol.roles import ROLES



# A device credential lives this long without a renewal. The page renews it while
# connected (server/gateway.py), so it only runs out on a device that is away: a phone
# left on the kitchen table after the group holds nothing that still opens it.
DEVICE_TTL = 600.0


class Claims(msgspec.Struct, kw_only=True, omit_defaults=True):
    room: str
    role: str
    id: str
    name: str
    exp: float
    # Set only on a device credential: the device it was issued to. omit_defaults
    # keeps a link token's payload (and so its signature) as it always was.
    dev: str | None = None
    link_exp: float | None = None       # on a device credential: the link's own end, which renewals keep to
    # on a device credential: when it was issued, on the room's clock (the record's), so that the
    # record itself can say it predates the person's leaving, after a restart or on another server
    issued: float | None = None


class TokenError(Exception):
    """`claims` is set when the token was genuine but cannot be used (expired)."""

    def __init__(self, message: str, claims: "Claims | None" = None):
        super().__init__(message)
        self.claims = claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, claims: Claims) -> str:
    payload = msgspec.json.encode(claims)
    mac = hmac.new(secret, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(secret: bytes, token: str, now: float) -> Claims:
    try:
        p64, m64 = token.split(".")
        payload, mac = _unb64(p64), _unb64(m64)
    except Exception:
        raise TokenError("the token is malformed") from None
    if not hmac.compare_digest(mac, hmac.new(secret, payload, hashlib.sha256).digest()):
        raise TokenError("the token's signature is not valid")
    try:
        claims = msgspec.json.decode(payload, type=Claims)
    except msgspec.DecodeError:
        raise TokenError("the token is malformed") from None
    if claims.role not in ROLES:
        raise TokenError("the token names an unknown role")
    if claims.exp < now:
        raise TokenError("the token has expired", claims)
    return claims


def device_credential(secret: bytes, claims: Claims, dev: str, now: float,
                      ttl: float = DEVICE_TTL, issued: float | None = None) -> tuple[str, float]:
    """A short-lived credential for one device, standing in for the link it was exchanged for."""
    link_exp = claims.link_exp if claims.link_exp is not None else claims.exp
    exp = min(now + ttl, link_exp)     # never outlives the link itself
    return sign(secret, Claims(room=claims.room, role=claims.role, id=claims.id, name=claims.name,
                               exp=exp, dev=dev, link_exp=link_exp, issued=issued)), exp


def device_refusal(claims: Claims, member) -> tuple[str, str, str] | None:
    """Whether a device credential may take its person's place, by the room's record alone
    (so every server agrees, after any restart or takeover): a refusal (code, message,
    close reason), or None. The place is the device's whose exchange was recorded last
    (`device_issued`); a credential issued before its person chose to leave opens nothing."""
    if left_since(claims, member):
        return ("unauthorized", "this device has left the session; open your join link to come back",
                "unauthorized")
    if member is not None and member.device is not None and member.device != claims.dev:
        return ("forbidden", "this session was opened on another device or in another tab", "elsewhere")
    return None


def issue_time(now: float, member) -> float:
    """When a device credential is issued, on the room's clock: never before the person's last leave
    in the record, even on a server whose clock lags the one they left on, so that `left_since`
    never reads a credential issued after the leave as older."""
    if member is None:
        return now
    return max(now, member.last_left or 0.0, member.chose_to_leave or 0.0)


def _last_leave(member) -> float | None:
    """When the record says this person last chose to leave (the room or its waiting room);
    a record written before that was kept: when they left the room, if that is where they are."""
    if member is None:
        return None
    if member.chose_to_leave is not None:
        return member.chose_to_leave
    return member.last_left if member.status == "left" else None


def left_since(claims: Claims, member) -> bool:
    """Whether the room's record says this person left after the credential was issued (or it
    carries no issue time, as before these credentials had one)."""
    last = _last_leave(member)
    return last is not None and (claims.issued is None or claims.issued < last)


def room_of(token: str) -> str | None:
    """The room a token names, read without checking it: only for putting the room
    in the websocket URL (`/?room=R`), so a proxy can route on it. The server
    checks the token itself."""
    try:
        return msgspec.json.decode(_unb64(token.split(".")[0]), type=Claims).room
    except Exception:       # noqa: BLE001 - not a token we can read: route without a room
        return None


def with_room(url: str, token: str | None) -> str:
    """`url` with the token's room as its `room` query parameter (none if unreadable)."""
    import urllib.parse
    room = room_of(token) if token else None
    if room is None or "room=" in url:
        return url
    base = url if urllib.parse.urlsplit(url).path else url.rstrip("/") + "/"
    return base + ("&" if "?" in base else "?") + "room=" + urllib.parse.quote(room, safe="")


def load_secret(path: str, create: bool = True) -> bytes:
    """Reads the server secret, creating it (mode 0600) on first use."""
    if os.path.exists(path):
        _private_or_refuse(path)
        with open(path, "rb") as f:
            data = f.read().strip()
        if len(data) < 32:
            raise TokenError(f"the secret file {path} is too short")
        return data
    if not create:
        raise TokenError(f"no secret file at {path}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return data


def _private_or_refuse(path: str) -> None:
    """Refuses a secret that others on the machine could read or write.

    Whoever reads it can sign a facilitator's token for any room; whoever can
    write it can swap in one they know. A warning would scroll past in a log
    while the server ran on it, so the server does not start (as ssh refuses a
    private key others can read): one `chmod 600` fixes it. See docs/security.md."""
    import stat
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o066:
        raise TokenError(f"the secret file {path} can be read or written by others (mode {mode:04o}): "
                         f"refused; make it private with `chmod 600 {path}`")


def parse_ttl(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except (ValueError, IndexError):
        raise ValueError(f"invalid ttl {text!r}: use e.g. 90m, 12h or 2d") from None
