"""Rooms from the record: at a restart (open rooms from their snapshots), on first use
(closed sessions, rooms let go), and letting finished rooms go again."""
from __future__ import annotations

import asyncio
import gc
import logging

from server import engine, stops
from server.record import Record, reading
from server.room_host import IDS_AFTER_RESTART, RESULTS_KEPT, Recent, RoomHost, _remember_refusal

log = logging.getLogger("session_server.hub")


class Loading:
    """Part of the Hub (server/hub.py), kept apart because it reads as one subject."""

    def load(self) -> int:
        """Rebuilds every open room from the record with the same fold; returns events folded.

        A room starts from its snapshot, if it has a valid one, and folds only
        the events after it, so a restart costs what happened since the last
        snapshot, not the whole evening. Older events stay on disk: a console
        resuming from before them reads them from the record (see `join`).
        The ids of the commands behind each room's newest events are
        remembered, so a retry across the restart is answered, not applied
        twice. The committed, visible state is a copy: at rest everything
        decided is recorded."""
        # A bulk build that makes no garbage cycles: the collector would only walk
        # the growing rooms again and again (a third of a 1,000-room restart).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._load_rooms()
        finally:
            if collecting:
                gc.enable()

    def _load_rooms(self) -> int:
        rec = self.record
        self._unloaded = set()
        if self.shared:
            # several servers share this record: a room is folded only by the one
            # that takes its lease, when someone first asks for it (see `take`)
            return 0
        snaps = rec.snapshots()
        # Closed sessions stay on disk until someone opens them (a reviewer, a
        # late console): a clinic's record grows for years, its restart must not.
        self._unloaded = rec.closed_rooms()
        n = 0
        for room, last in rec.open_rooms().items():
            host = self.rooms[room] = RoomHost(room)
            n += self._fold_from_record(rec, host, snaps.get(room), last)
        for room, actor, cmd, typ, body in rec.refusals():
            host = self.rooms.get(room)
            if host is not None:
                _remember_refusal(host, actor, cmd, typ, body)
        self._drops_after_crash()
        for host in self.rooms.values():
            self._ready(host)
        return n

    def _drops_after_crash(self) -> None:
        stops.drops_after_crash(self)

    async def record_stop(self, timeout: float = 3.0) -> None:
        """A graceful stop is a drop for everyone connected (see server/stops.py)."""
        await stops.record_stop(self, timeout)

    def _fold_from_record(self, rec: Record, host: RoomHost, snap, last: int) -> int:
        """Folds a room from its snapshot (if valid) and the events after it;
        remembers the command ids behind its newest events. Returns events folded."""
        state = reading.from_snapshot(host.id, snap, self.sealer, last)
        if state is not None:
            host.state, host.snap_seq = state, state.seq
        elif snap is not None:
            log.warning("a room snapshot was not used (another fold, or not sealed by this server)")
        # one read of the room's tail: the events after the state, to fold and keep for
        # resumes, and the ids of the commands behind the newest (some before the state)
        results, recent, n = host.results, host.recent, 0
        ids_after = min(host.state.seq, max(0, last - IDS_AFTER_RESTART))
        for seq, f, actor, cmd in reading.tail(rec, host.id, host.state, ids_after):
            if f is not None:
                recent.append(Recent(seq, f.at, f.aud, f.ev))
                n += 1
            if cmd is not None:
                results[(actor, cmd)] = seq     # an answered id: its ack's position
        return n

    @staticmethod
    def _fold_events(rec: Record, host: RoomHost) -> int:
        """Folds the record's events after the room's state into it, keeping each for resumes."""
        recent, n = host.recent, 0
        for f in reading.folding(host.state, reading.frames(rec, host.id, host.state.seq)):
            recent.append(Recent(f.seq, f.at, f.aud, f.ev))
            n += 1
        return n

    def _ready(self, host: RoomHost) -> None:
        host.visible = engine.copy_state(host.state)
        while len(host.results) > RESULTS_KEPT:
            host.results.popitem(last=False)
        self._reschedule(host)

    def room(self, room: str) -> RoomHost:
        host = self.rooms.get(room)
        if host is None and self.shared:
            # with a shared record only the lease holder may serve a room (see `take`)
            raise LookupError(f"this server does not hold room {room!r}: take it first")
        if host is None:
            host = self.rooms[room] = RoomHost(room)
            if room in self._unloaded:
                self._unloaded.discard(room)
                self._load_closed(host)
        return host

    def reader(self) -> Record:
        """A read-only connection of the hub's own, for reads on the event loop
        (WAL lets it read beside the writer thread)."""
        if self._reader is None:
            self._reader = self.record.reader()
        return self._reader

    def _load_closed(self, host: RoomHost) -> None:
        """Folds a closed session from the record on first use (after a restart, or after
        it was let go once its last connection had gone: see `_release`).

        The answers to its commands come back with it, as at a restart (ack seqs, then
        refusals, which a retry never turns into an acceptance): a command
        retried after the room was let go (its answer lost with a connection) is answered
        as the duplicate it is, with its ack's seq or its refusal, as it would have been
        had the room stayed in memory. Anonymous ballots carry no id in the record, so a
        retried ballot is decided again, and refused: the session is closed."""
        reader = self.reader()
        self._fold_events(reader, host)
        results = host.results
        for actor, cmd, seq in reader.command_ids(host.id, 0):
            results[(actor, cmd)] = seq         # the last event of a command is its ack's seq
        for _room, actor, cmd, typ, body in reader.refusals(host.id):
            _remember_refusal(host, actor, cmd, typ, body)
        while len(results) > RESULTS_KEPT:
            old, _ = results.popitem(last=False)
            host.names.pop(old, None)
        host.visible = engine.copy_state(host.state)

    def _release(self, host: RoomHost) -> None:
        """Lets a finished room go once nothing holds it: a closed session (or a room that
        never had an event) with no connection, no hello on its way in and nothing waiting
        to be written or delivered. It is folded again from the record on first use, as
        closed sessions are after a restart, so a server that runs for months holds only
        the rooms in use, not every session it ever hosted."""
        if self.rooms.get(host.id) is not host or host.conns or host.joining:
            return
        st = host.state
        if not (st.phase == "closed" or (st.phase == "setup" and st.seq == 0)):
            return
        if st.seq != host.visible.seq:
            return
        if any(b.host is host for b in self._pending) or any(b.host is host for b in self._inflight):
            return
        del self.rooms[host.id]
        self._due.pop(host.id, None)
        if st.phase == "closed":
            self._unloaded.add(host.id)
        if self.leases is not None:
            # a shared record: give the room back, so any server may fold it again
            asyncio.get_running_loop().run_in_executor(None, self.leases.release, host.id)
