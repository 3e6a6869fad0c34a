"""Running timers, drawn from their deadlines; the app's clock redraws them once a second."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from facilitator.components import update_if_changed

from facilitator.mirror import fmt_secs
from server.engine.timers import remaining

SHOW_ENDED_FOR = 60.0    # seconds an expired timer stays on screen


class TimersPanel(Static):
    def on_mount(self) -> None:
        self.border_title = "Timers"

    def show(self, s, now: float) -> None:
        if s is None:
            return
        t = Text()
        shown = 0
        if s.breakouts == "open" and s.breakouts_ends is not None:
            left = max(0.0, s.breakouts_ends - now)
            t.append("⧉ breakouts ", "bold")
            t.append(fmt_secs(left), "bold red" if left < 60 else "yellow")
            shown += 1
        for tm in s.timers.values():
            if tm.state == "cancelled":
                continue
            if tm.state == "expired" and tm.ended_at is not None and now - tm.ended_at > SHOW_ENDED_FOR:
                continue        # "time up" has been seen; keep the panel for what still runs
            if shown:
                t.append("\n")
            left = remaining(tm, now)
            sym = {"running": "⏵", "paused": "⏸", "expired": "⏹"}.get(tm.state, "?")
            style = "bold red" if tm.state == "expired" or (tm.state == "running" and left < 60) else ""
            t.append(f"{sym} {(tm.label or tm.id)[:20]} ")
            t.append("time up" if tm.state == "expired" else fmt_secs(left), style)
            shown += 1
        if not shown:
            t.append("no timers  (t to start)", "dim")
        update_if_changed(self, t)
