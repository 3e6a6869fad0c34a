"""What the hub does when the record cannot be written, and when it can again.

A mixin of `Hub` (server/hub.py), kept apart so that the write path there
stays readable: the commit loop calls `_failed` when a commit does not
happen and `_recovered` when writing works again; `_submit` and `_audit`
call `_unavailable` while the record is not taking writes. The rules are in
docs/reliability.md ("When the record cannot be written").
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from protocol.frames import Error, encode
from server import engine
from server.engine import Rejected
from server.health import Unavailable

log = logging.getLogger("session_server.hub")

if TYPE_CHECKING:
    from server.room_host import Batch, RoomHost


class Outages:
    def _unavailable(self, fut: asyncio.Future) -> asyncio.Future:
        """A write refused at once: the record is not taking writes now."""
        fut.set_exception(self.health.error())
        fut.exception()       # marked as seen: whoever awaits it still gets the error
        return fut

    def _failed(self, batches: list[Batch], exc: BaseException) -> None:
        """Takes back a commit that did not happen.

        Its rooms' later batches were decided on top of its events, so they go
        too; every one of those rooms returns to its recorded state. Other
        rooms' queued batches stay queued: the next commit tries them."""
        if self.health.down(exc):
            self._tell_staff()
        hosts = {id(b.host): b.host for b in batches}
        behind = [b for b in self._pending if id(b.host) in hosts]
        self._pending = [b for b in self._pending if id(b.host) not in hosts]
        err = Unavailable(self.health.detail)
        for b in batches + behind:
            if not b.future.done():
                b.future.set_exception(err)
                b.future.exception()
        for host in hosts.values():
            # the fold of the record; deadlines that fired in the lost events are
            # due again, and fire (at their own instants) once writing resumes
            host.state = engine.copy_state(host.visible)
            self._reschedule(host)
        if self.shared:
            # A lost connection can hide a commit that happened: PostgreSQL may have
            # committed it just before the answer was lost. Checked once writing resumes.
            self._unsure.update(host.id for host in hosts.values())

    def _recovered(self) -> None:
        """Writing works again: deadlines held back fire, presence is caught up."""
        self.health.up()
        if self._unsure:
            self._settle_unsure()
        self._tell_staff()
        for host in list(self.rooms.values()):
            self._due.pop(host.id, None)
            self._reschedule(host)
            if host.unrecorded:
                self._reconcile(host)
        if self._wake_timer is not None:
            self._wake_timer.set()

    def _settle_unsure(self) -> None:
        """Rooms whose commit failed on a lost connection: if the record holds more of
        the room than it was shown (the commit happened after all), the room is let go
        and folded again from the record when its people reconnect (1012), as after a
        lease that moved; they resume by seq, without a gap or a duplicate. Before any
        new write to those rooms: `_submit` refused them while writing was down."""
        rooms = [r for r in self._unsure if r in self.rooms]
        self._unsure = set()
        try:
            # one round trip, on the event loop: nothing may be decided in these rooms first
            lasts = self.reader().last_seqs(rooms) if rooms else {}
        except Exception:       # noqa: BLE001 - unreadable: the record decides, so they are read again
            lasts = None
        for room in rooms:
            host = self.rooms[room]
            if lasts is None or lasts.get(room, 0) != host.visible.seq:
                log.warning("a commit thought lost %s; the room is read again from the record",
                            "could not be checked" if lasts is None else "was recorded")
                self.drop_room(room, "the room is read again from the record")

    def _reconcile(self, host: RoomHost) -> None:
        """Records the arrivals and departures an outage kept out of the record,
        so that nobody connected is missing from the room and nobody gone is a
        ghost in it. Each is stamped when it happened (never before the room's
        last recorded event)."""
        moved, host.unrecorded = host.unrecorded, {}
        self.fire_due(host)
        for pid, (actor, at) in moved.items():
            at = max(at, host.state.at or at)
            conn = host.conns.get(pid)
            try:
                emits = (engine.connect(host.state, actor, at) if conn is not None
                         else engine.disconnect(host.state, actor, at))
            except Rejected as exc:      # e.g. the seat was taken meanwhile
                host.conns.pop(pid, None)
                conn.send(encode(Error(code=exc.code, message=exc.message), conn.binary))
                conn.close(1008, exc.code)
                continue
            if emits:
                fut = self._submit(host, emits, actor.id, None, at)
                fut.add_done_callback(lambda f, p=pid, a=actor, t=at: f.exception() is not None
                                      and host.unrecorded.setdefault(p, (a, t)))

    def _tell_staff(self) -> None:
        frame = self.health.frame()
        bin_, txt = encode(frame, True), encode(frame, False)
        for host in self.rooms.values():
            for conn in list(host.conns.values()):
                if conn.role != "participant":
                    conn.send(bin_ if conn.binary else txt)
