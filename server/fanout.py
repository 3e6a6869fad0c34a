"""Fan-out by audience, and the room's recent window that resumes are served from.

Who hears an event is judged by the room as it was when the event happened, both
live (`_deliver`, once the event is durable) and on a resume (`_missed`, from the
last RECENT_KEPT events in memory, or from the record for what a restart left on
disk). The welcome is the room's picture as this connection may see it.
"""
from __future__ import annotations

from protocol import events as ev_mod
from protocol.frames import PROTOCOL_VERSION, Welcome, You, encode
from server import engine
from server.engine.hearing import hears
from server.engine.views import participant_view
from server.room_host import RECENT_KEPT, Recent, RoomHost, Sink


class Fanout:
    """Part of the Hub (server/hub.py), kept apart because it reads as one subject."""

    def _deliver(self, host: RoomHost, items: list[Recent]) -> None:
        vis = host.visible
        for it in items:
            # who hears an event is decided by the room as it was when it happened:
            # the person who leaves hears their own leaving, the session's close too
            for pid, conn in list(host.conns.items()):
                m = vis.members.get(pid)
                staff = conn.role != "participant"
                if m is None and not staff:
                    continue
                if hears(it.aud, it.seq, pid, conn.role, m):
                    conn.send(it.frame(conn.binary, not staff))
            engine.evolve(vis, it.event, it.at, it.seq)
            host.recent.append(it)
            self._after_event(host, it)

    def _after_event(self, host: RoomHost, it: Recent) -> None:
        ev = it.event
        if self.media is not None:
            self.media.after_event(host, ev)
        if isinstance(ev, (ev_mod.Admitted, ev_mod.Returned)):
            conn = host.conns.get(ev.person)
            if conn is not None:
                # newly inside: the room's picture as this participant may see it
                conn.send(self.welcome(host, conn, resumed=False))
        elif isinstance(ev, (ev_mod.Denied, ev_mod.Removed)):
            conn = host.conns.pop(ev.person, None)
            if conn is not None:
                conn.close(1000, "removed" if isinstance(ev, ev_mod.Removed) else "denied")
        elif isinstance(ev, ev_mod.SessionClosed):
            for pid, conn in list(host.conns.items()):
                if conn.role == "participant":
                    host.conns.pop(pid, None)
                    conn.close(1000, "the session has ended")

    def welcome(self, host: RoomHost, conn: Sink, resumed: bool) -> bytes | str:
        vis = host.visible
        m = vis.members.get(conn.person)
        you = You(id=conn.person, name=m.name if m else "", role=conn.role)
        state = None
        if not resumed:
            state = vis if conn.role != "participant" else participant_view(vis, conn.person)
        return encode(Welcome(protocol=PROTOCOL_VERSION, room=host.id, you=you,
                              server_time=self.clock.now(), seq=vis.seq, resumed=resumed,
                              state=state), conn.binary)

    def _missed(self, host: RoomHost, resume: int | None):
        """The events after `resume`, if a resume can be served (None: send a fresh
        welcome instead): the last RECENT_KEPT of the room, from memory, or from
        the record for what a restart left on disk."""
        vis = host.visible
        if resume is None or not 0 <= resume <= vis.seq or vis.seq - resume > RECENT_KEPT:
            return None
        recent = host.recent
        if resume == vis.seq:
            return ()
        if recent and recent[0].seq <= resume + 1:
            return (it for it in recent if it.seq > resume)
        first = recent[0].seq if recent else vis.seq + 1
        older = [Recent(seq, at, aud, None, body=body) for seq, at, aud, _typ, body
                 in self.reader().events(host.id, after=resume, before=first)]
        if len(older) != first - resume - 1:
            return None        # not all on disk (cannot happen with an intact record): start afresh
        return [*older, *recent]
