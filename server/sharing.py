"""Rooms shared with other servers through a PostgreSQL record: a room is served only by
the holder of its lease (server/leases.py), taken on first use and given back."""
from __future__ import annotations

import asyncio
import logging
import time

from server import engine
from server.room_host import RoomHost, _remember_refusal

log = logging.getLogger("session_server.hub")


class Sharing:
    """Part of the Hub (server/hub.py), kept apart because it reads as one subject."""

    async def take(self, room: str, wait: bool = False) -> "RoomHost | str":
        """The room, once this server may serve it. With a record of its own that is
        at once. With a shared record it takes the room's lease and folds the
        room from the record; if a live server holds the lease, returns that
        server's address instead (the gateway relays to it), unless `wait`:
        then it waits for the lease to lapse (its holder is gone) and takes it."""
        if not self.shared:
            return self.room(room)
        while True:
            host = self.rooms.get(room)
            if host is not None:
                return host
            pending = self._taking.get(room)
            if pending is None:
                break
            await asyncio.shield(pending)
        done = self._taking[room] = asyncio.get_running_loop().create_future()
        try:
            deadline = time.monotonic() + self.leases.ttl + 2.0
            while True:
                epoch, holder, left = await asyncio.to_thread(self.leases.acquire, room)
                if epoch is not None:
                    break
                if holder is not None and not wait:
                    return holder
                if time.monotonic() > deadline:
                    return holder or ""
                await asyncio.sleep(min(0.25, left + 0.05))
            host = RoomHost(room)
            rec = self.reader()

            def fold() -> None:
                self._fold_from_record(rec, host, rec.snapshot(room), rec.last_seq(room))
                for r, actor, cmd, typ, body in rec.refusals(room):
                    _remember_refusal(host, actor, cmd, typ, body)
            await asyncio.to_thread(fold)
            # whoever the record holds as connected was cut off by the server that died
            # (a graceful stop records its drops itself): their drops, as after a crash
            at = host.state.at
            emits = engine.stop_drops(host.state, at)
            if emits:
                rows, items = self._fold(host, emits, engine.SYSTEM.id, None, at)
                await asyncio.get_running_loop().run_in_executor(self._writer, self.record.append, rows, [])
                host.recent.extend(items)
            self.rooms[room] = host
            self._ready(host)
            log.info("took a room (epoch %d)", epoch)
            return host
        finally:
            self._taking.pop(room, None)
            done.set_result(None)

    async def _keep_leases(self) -> None:
        from server.leases import RENEW_EVERY
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                lost = await asyncio.to_thread(self.leases.renew)
            except Exception as exc:     # noqa: BLE001 - the database is away: the fence keeps writes safe
                log.warning("could not renew room leases: %s", type(exc).__name__)
                continue
            for room in lost:
                self.drop_room(room, "the room moved to another server")

    def drop_room(self, room: str, reason: str) -> None:
        """Stops serving a room whose lease passed to another server; its people
        reconnect and are served by the new owner, resuming by seq."""
        host = self.rooms.pop(room, None)
        if host is None:
            return
        log.warning("let a room go (%s); its connections are closed to reconnect", reason)
        self._due.pop(room, None)
        for conn in list(host.conns.values()):
            conn.close(1012, reason)
        host.conns.clear()
        if self.media is not None:
            self.media.let_go(room)
