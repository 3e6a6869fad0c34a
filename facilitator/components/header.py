"""The top line: what this session is, how far along, and whether we are live."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from facilitator.components import update_if_changed

from facilitator.mirror import agenda_left, fmt_secs, session_clock

CONN_LOOK = {
    # a symbol as well as a colour: the state must read on a monochrome terminal too
    "online": ("● live", "green"),
    "connecting": ("◌ connecting", "yellow"),
    "reconnecting": ("◌ reconnecting", "yellow"),
    "offline": ("✕ offline", "bold red"),
    "refused": ("✕ refused", "bold red"),
    "replay": ("⏵ replay", "magenta"),
}


class SessionClock(Static):
    """Session time and the agenda segment's time left; the app's clock ticks it once a second."""

    def show(self, s, now: float) -> None:
        if s is None:
            update_if_changed(self, Text(""))
            return
        t = Text()
        clock = session_clock(s, now)
        phase = {"setup": "not open", "closed": "closed"}.get(s.phase)
        t.append("⏱ ", "dim")
        t.append(fmt_secs(clock) if clock is not None else "--:--", "bold")
        if phase:
            t.append(f" ({phase})", "dim")
        seg = agenda_left(s, now)
        if seg is not None:
            title, left = seg
            t.append("  ▸ ", "dim")
            t.append(title[:24])
            if left >= 0:
                t.append(f" {fmt_secs(left)} left", "yellow" if left < 120 else "")
            else:
                t.append(f" over {fmt_secs(-left)}", "bold red")
        if s.breakouts == "open" and s.breakouts_ends is not None:
            # the rooms' countdown on the main screen too: everyone is warned a minute before
            back = s.breakouts_ends - now
            t.append("  ◫ ", "dim")
            t.append(f"rooms{f' (round {s.round})' if s.round else ''} back in {fmt_secs(max(0.0, back))}",
                     "bold yellow" if back <= 60 else "")
        if s.floor_held:
            # while held, only the speaker and staff are heard: H again releases it
            t.append("  ⊘ floor held", "bold magenta")
        update_if_changed(self, t)


class SessionHeader(Horizontal):
    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield SessionClock(id="clock")
        yield Static(id="record")
        yield Static(id="conn")

    def show(self, s, now: float, me: str = "") -> None:
        title = Text()
        if s is not None:
            title.append(s.title or s.room, "bold")
        if me:
            title.append(f"  {me}", "dim")
        update_if_changed(self.query_one("#title", Static), title)
        self.query_one(SessionClock).show(s, now)

    def record_health(self, record: str, detail: str = "") -> None:
        """The server's word on its record: nothing while it can write, a red mark
        while it cannot (commands are refused then, and the room is as recorded)."""
        t = Text()
        if record != "ok":
            t.append("✕ not recording", "bold red")
            if detail:
                t.append(f" {detail[:32]}", "dim")
            t.append("  ")     # the cell stays empty (zero wide) while all is well
        update_if_changed(self.query_one("#record", Static), t)
        self.set_class(record != "ok", "-unrecorded")

    def connection(self, status: str, detail: str = "") -> None:
        label, style = CONN_LOOK.get(status, (status, ""))
        t = Text(label, style)
        if detail and status not in ("online", "replay"):
            t.append(f" {detail[:40]}", "dim")
        update_if_changed(self.query_one("#conn", Static), t)
        self.set_class(status not in ("online", "replay"), "-degraded")
