"""The client's side of the protocol, once: a sans-I/O session (docs/protocol.md section 14).

Every client (the console, the participant terminal, the scenario runner, the campaigns; the page's
link.js follows the same machine) knows the same things about a session: say hello with the last
position seen, keep commands by id until answered and send them again after a reconnect, ping as a
barrier and as a heartbeat, wait longer after each failed attempt, and stop for good on the close
reasons no retry can change. This object holds those rules and nothing else. Bytes and happenings go
in (`connected`, `receive`, `closed`, `failed`, `tick`, `command`, `ping`); frames to write, frames
to deliver and decisions come out. It opens no socket, reads no clock (every input carries `now`)
and draws randomness only from the function it is given, so a test drives it in microseconds and
the asyncio adapters (server/client.py and the links over it) stay thin, as in python-websockets.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Union

import msgspec

from protocol.frames import (
    PROTOCOL_VERSION, Ack, Answer, Cmd, Error, EventFrame, Hello, Ping, Pong, Welcome, decode_server, encode,
)

# --- states ---------------------------------------------------------------------------------------
CONNECTING = "connecting"        # no socket yet: the first attempt, or a retry under way
HELLO_SENT = "hello-sent"        # the socket is open and the hello is out; no welcome yet
LIVE = "live"                    # welcomed: events flow, commands go out
BACKING_OFF = "backing-off"      # the connection ended (or never came); waiting to try again
FINAL = "final"                  # no retry can help, or the client stopped: nothing more happens
STATES = (CONNECTING, HELLO_SENT, LIVE, BACKING_OFF, FINAL)

# --- the one list of endings ------------------------------------------------------------------------
# Close reasons (server/gateway.py, server/hub.py) after which trying again cannot help, and the
# ending each means. Any other close (no close frame, 1001, 1006, 1011, 1012, 1013, "closed", ...) is
# a network loss or a passing refusal: reconnect with resume, with a growing delay.
FINAL_REASONS = {
    "the session has ended": "ended",
    "removed": "removed",
    "denied": "denied",
    "left": "left",
    "unauthorized": "unauthorized",
    "forbidden": "forbidden",
    "protocol version": "version",
    "in use": "in-use",          # the link is open in another tab or on another device
    "elsewhere": "elsewhere",    # a newer device took this person's place
}
REPLACED = 4000                  # the close code of a connection replaced by the same person's newer one
# Codes of an `error` answering the hello that no retry can change.
FINAL_REFUSALS = ("unauthorized", "forbidden", "version")
# Endings that deserve one quiet retry first, after this many seconds: a reloaded page can reach
# the server before the old page's socket has closed there.
RETRY_ONCE = {"in-use": 2.0}


def ending(refusal: Error | None, code: int | None, reason: str) -> str | None:
    """The ending for a connection that closed so, or None when a reconnect may help."""
    if code == REPLACED:
        return "replaced"
    if refusal is not None:
        if refusal.code == "forbidden" and "removed" in refusal.message:
            return "removed"
        if refusal.code == "closed" and "ended" in refusal.message:
            return "ended"
        if reason not in FINAL_REASONS and refusal.code in FINAL_REFUSALS:
            return refusal.code
    return FINAL_REASONS.get(reason)


# --- policies ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Backoff:
    """The waits between attempts: `delays[n]` after the n-th failure in a row (the last repeats),
    times a random factor in `jitter` so a room whose server restarts does not return in one instant.
    A connection counts as back (the count starts again) once it stayed live `steady_after` seconds:
    a server that accepts and drops at once is not asked again five times a second."""
    delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
    jitter: tuple[float, float] = (0.5, 1.0)
    steady_after: float = 5.0

    @classmethod
    def doubling(cls, first: float, cap: float, jitter: tuple[float, float] = (0.75, 1.25)) -> Backoff:
        delays = [first]
        while delays[-1] * 2 < cap:
            delays.append(delays[-1] * 2)
        return cls(tuple(delays) + ((cap,) if cap > first else ()), jitter)

    def delay(self, attempt: int, r: float) -> float:
        lo, hi = self.jitter
        return self.delays[min(attempt, len(self.delays) - 1)] * (lo + (hi - lo) * r)


@dataclass(frozen=True)
class Heartbeat:
    """Silence is the only sign of a network gone quiet (a phone's socket stays "open"): ping after
    `ping_every` seconds without a frame, or at least every `renew_every`; any frame counts as life,
    and `dead_after` seconds of silence (or a hello unanswered for `hello_within`) ends the link."""
    ping_every: float
    dead_after: float
    renew_every: float | None = None
    hello_within: float | None = None


@dataclass(frozen=True)
class Retry:
    """Which unanswered commands are sent again, with their id, after the next welcome: at most
    `resends` times (None: until answered), and only if the link is back within `within` seconds of
    the drop (None: however long it takes), so that nothing runs long after it was asked for."""
    resends: int | None = None
    within: float | None = None


# --- outputs ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Send:
    data: bytes | str              # a frame to write, in order


@dataclass(frozen=True)
class Deliver:
    frame: object                  # every frame received, in socket order
    repeat: bool = False           # an event at or below the position: already seen


@dataclass(frozen=True)
class Answered:
    id: str
    frame: Ack | Error | Answer


@dataclass(frozen=True)
class Ponged:
    id: int
    pong: Pong


@dataclass(frozen=True)
class Refused:
    error: Error                   # the hello's answer was an error, not a welcome


@dataclass(frozen=True)
class Drop:
    why: str                       # cut the socket: the adapter's network has gone silent


@dataclass(frozen=True)
class Unanswered:
    id: str                        # a command that will get no answer here: not sent again


@dataclass(frozen=True)
class Reconnect:
    at: float                      # try again at this time
    why: str                       # "unreachable" (never welcomed) | "lost" | "not-open" | "refused"
    detail: str = ""


@dataclass(frozen=True)
class Final:
    kind: str                      # an ending of FINAL_REASONS, "replaced", or the adapter's own
    message: str = ""


Output = Union[Send, Deliver, Answered, Ponged, Refused, Drop, Unanswered]


@dataclass
class _Pending:
    frame: bytes | str
    within: float | None              # sent again only if the link is back within this (None: always)
    retry: bool = True                # may be sent again after a reconnect at all
    sent: bool = False                # written on some connection (else it waits for its first welcome)
    resends: int = 0
    since: float | None = None        # waiting for a connection since then


class Session:
    """One client's session with one room, across its connections."""

    def __init__(self, token: str | None, *, binary: bool = True, device: bool = False,
                 backoff: Backoff = Backoff(), heartbeat: Heartbeat | None = None, retry: Retry | None = None,
                 rand: Callable[[], float] = random.random):
        self.token, self.binary, self.device = token, binary, device
        self.backoff, self.heartbeat, self.retry, self.rand = backoff, heartbeat, retry, rand
        self.state = CONNECTING
        self.position: int | None = None     # sure to have seen everything up to here
        self.welcome: Welcome | None = None
        self.welcomed = False                # this connection has had its welcome
        self.ever_welcomed = False
        self.pending: dict[str, _Pending] = {}
        self.pings: dict[int, float] = {}    # id -> sent at
        self._ping_ids = 0
        self.attempt = 0                     # failures in a row
        self.refusal: Error | None = None    # this connection's refused hello
        self.decision: Reconnect | Final | None = None
        self._retried: set[str] = set()      # endings of RETRY_ONCE already retried
        self.opened_at = self.live_since = self.heard = self.pinged = 0.0
        self.dialing = False                 # `opening` was said, `connected` not yet

    # --- inputs ---------------------------------------------------------------------------------

    def opening(self, now: float) -> None:
        """A socket is being opened: the attempt's time (`hello_within`) counts from here."""
        self.state, self.decision, self.dialing = CONNECTING, None, True
        self.opened_at = now

    def connected(self, now: float, resume: int | None = None) -> bytes | str:
        """The socket is open: returns the hello to send. `resume` is the position to resume from
        (the adapter's picture may know better than `position`, e.g. after a gap it wants afresh)."""
        self.state, self.decision, self.refusal = HELLO_SENT, None, None
        self.welcomed = False
        if not self.dialing:
            self.opened_at = now
        self.heard, self.dialing = now, False
        return encode(Hello(token=self.token, protocol=PROTOCOL_VERSION, resume=resume, device=self.device),
                      self.binary)

    def receive(self, data: bytes | str, now: float) -> list[Output]:
        """A frame from the server (raises msgspec errors on a bad one, as the decoder does)."""
        frame = decode_server(data)
        self.heard = now
        out: list[Output] = []
        if isinstance(frame, EventFrame):
            repeat = self.position is not None and frame.seq <= self.position
            if not repeat:
                self.position = frame.seq
            return [Deliver(frame, repeat)]
        if isinstance(frame, Welcome):
            self.welcome = frame
            if not frame.resumed:
                # a resumed welcome's seq is the room's: the replay after it is what moves the position
                self.position = frame.seq
            if not self.welcomed:
                self.welcomed = self.ever_welcomed = True
                self.state, self.live_since = LIVE, now
                out.append(Deliver(frame))
                out.extend(self._resend(now))
                if self.heartbeat is not None:
                    # the pong marks the end of a replay, and its round trip sharpens the clock offset
                    out.append(self.ping(now)[1])
                return out
        elif isinstance(getattr(frame, "id", None), str) and frame.id in self.pending:
            # an ack or error (or any answer that names its request's id)
            del self.pending[frame.id]
            out.append(Answered(frame.id, frame))
        elif isinstance(frame, Error) and not self.welcomed:
            self.refusal = frame
            out.append(Refused(frame))
        elif isinstance(frame, Pong):
            if self.position is not None:
                self.position = max(self.position, frame.seq)
            if self.pings.pop(frame.id, None) is not None:
                out.append(Ponged(frame.id, frame))
        out.insert(0, Deliver(frame))
        return out

    def closed(self, code: int | None, reason: str, now: float) -> list[Output]:
        """The connection ended (a close frame, or none: code None or 1006)."""
        was_live = self.state == LIVE
        self.pings.clear()
        self.dialing = False
        out = self._orphan(now)
        if self.state == FINAL:
            return out
        kind = ending(self.refusal, code, reason)
        if kind in RETRY_ONCE and kind not in self._retried:
            self._retried.add(kind)
            self._wait(now + RETRY_ONCE[kind], "lost", reason)
            return out
        if kind is not None:
            self.finish(kind, self.refusal.message if self.refusal is not None else reason)
            return out + self._orphan(now)
        if was_live and now - self.live_since >= self.backoff.steady_after:
            self.attempt = 0
        refused = self.refusal
        if refused is not None:
            # the server answered, and may yet let us in ("closed": the session has not opened yet)
            why = "not-open" if refused.code == "closed" else "refused"
        else:
            why = "lost" if self.ever_welcomed else "unreachable"
        self._backoff(now, why, refused.message if refused is not None else reason)
        return out

    def failed(self, now: float, detail: str = "") -> None:
        """An attempt that never got a socket (refused, unknown name, timed out)."""
        self.dialing = False
        if self.state != FINAL:
            self._backoff(now, "lost" if self.ever_welcomed else "unreachable", detail)

    def tick(self, now: float) -> list[Output]:
        """Time passed: pings due, a silent link to drop, commands whose chance to be resent is gone."""
        out: list[Output] = []
        hb = self.heartbeat
        if hb is not None and self._attempting() and hb.hello_within is not None \
                and now - self.opened_at > hb.hello_within:
            out.append(Drop("no welcome"))
        elif hb is not None and self.state == LIVE:
            if now - self.heard > hb.dead_after:
                out.append(Drop("silent"))
            elif now >= self._ping_due(hb):
                out.append(self.ping(now)[1])
        if self.state != LIVE:
            for cid, p in list(self.pending.items()):
                if p.since is not None and p.within is not None and now - p.since > p.within:
                    del self.pending[cid]
                    out.append(Unanswered(cid))
        return out

    def command(self, cmd, cid: str, now: float) -> list[Output]:
        """A command (a Command, or a raw dict for stories about refused input) under a client-made id.
        Sent at once when live; otherwise kept for the next welcome, if it comes within the retry
        policy's `within`. The same id again: sent again, answered once."""
        if isinstance(cmd, dict):
            return self.request({"t": "cmd", "id": cid, "cmd": cmd}, cid, now)
        return self.request(Cmd(id=cid, cmd=cmd), cid, now)

    def request(self, frame, cid: str, now: float, retry: bool = True) -> list[Output]:
        """Any client frame that is answered under its id (a `Cmd`, or a raw dict). `retry=False`
        for a request that must not be sent twice: it is unanswered when its connection ends."""
        if isinstance(frame, dict):
            data = msgspec.msgpack.encode(frame) if self.binary else msgspec.json.encode(frame).decode()
        else:
            data = encode(frame, self.binary)
        within = self.retry.within if self.retry is not None else None
        live = self.state == LIVE
        self.pending[cid] = _Pending(data, within, retry, sent=live, since=None if live else now)
        return [Send(data)] if live else []

    def forget(self, cid: str) -> None:
        """The adapter stopped waiting for this command's answer."""
        self.pending.pop(cid, None)

    def ping(self, now: float) -> tuple[int, Send]:
        """A barrier: once its pong is back, every event sent before it has arrived."""
        self._ping_ids += 1
        self.pings[self._ping_ids] = self.pinged = now
        return self._ping_ids, Send(encode(Ping(id=self._ping_ids), self.binary))

    def finish(self, kind: str, message: str = "") -> None:
        """Stops for good: an ending the adapter found (a staff welcome in a participant's client)
        or the person's own close (kind "closing")."""
        if self.state != FINAL:
            self.state, self.decision = FINAL, Final(kind, message)

    # --- inside -------------------------------------------------------------------------------------

    def _backoff(self, now: float, why: str, detail: str) -> None:
        self._wait(now + self.backoff.delay(self.attempt, self.rand()), why, detail)
        self.attempt += 1

    def _wait(self, at: float, why: str, detail: str) -> None:
        self.state, self.decision = BACKING_OFF, Reconnect(at, why, detail)

    def _orphan(self, now: float) -> list[Output]:
        """The connection is gone: which unanswered commands wait for the next one."""
        out: list[Output] = []
        r = self.retry
        for cid, p in list(self.pending.items()):
            spent = r is None or not p.retry or (r.resends is not None and p.resends >= r.resends)
            if self.state == FINAL or (p.sent and spent):
                del self.pending[cid]
                out.append(Unanswered(cid))
            elif p.since is None:
                p.since = now
        return out

    def _resend(self, now: float) -> list[Output]:
        """Welcomed: what was asked for and never answered goes out (again), with its id."""
        out: list[Output] = []
        for cid, p in list(self.pending.items()):
            if p.since is not None and p.within is not None and now - p.since > p.within:
                del self.pending[cid]
                out.append(Unanswered(cid))
                continue
            if p.sent:
                p.resends += 1
            p.sent, p.since = True, None
            out.append(Send(p.frame))           # the server applies an id once
        return out

    def _attempting(self) -> bool:
        return self.state == HELLO_SENT or (self.state == CONNECTING and self.dialing)

    def _ping_due(self, hb: Heartbeat) -> float:
        quiet = self.heard + hb.ping_every
        if hb.renew_every is not None:
            quiet = min(quiet, self.pinged + hb.renew_every)
        return max(self.pinged + hb.ping_every, quiet)

    def next_tick(self) -> float | None:
        """When `tick` has something to do next (None: nothing is timed)."""
        hb, times = self.heartbeat, []
        if hb is not None and self._attempting() and hb.hello_within is not None:
            times.append(self.opened_at + hb.hello_within)
        if hb is not None and self.state == LIVE:
            times += [self.heard + hb.dead_after, self._ping_due(hb)]
        if self.state != LIVE:
            times += [p.since + p.within for p in self.pending.values()
                      if p.since is not None and p.within is not None]
        return min(times) if times else None
