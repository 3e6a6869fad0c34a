"""Every event as it was folded, in the room's order, in plain words."""
from __future__ import annotations

import time as _time

from rich.text import Text
from textual.widgets import RichLog

from facilitator.components import BatchedWrites
from server.wording import event_line

LOUD = ("HELP", "CHECK-IN", "FLAG")


class EventLog(BatchedWrites, RichLog):
    def __init__(self, **kw):
        super().__init__(wrap=False, markup=False, max_lines=500, min_width=20, **kw)

    def on_mount(self) -> None:
        self.border_title = "Event log"

    def add(self, s, frame) -> None:
        text = event_line(s, frame.ev)
        t = Text(_time.strftime("%H:%M:%S ", _time.localtime(frame.at)), "dim")
        t.append(f"#{frame.seq} ", "dim")
        t.append(text, "bold red" if text.startswith(LOUD) else "")
        self.write_soon(t)

    def restart(self, s, frames) -> None:
        self.drop_pending()
        self.clear()
        if not frames:
            # a snapshot carries the state, not its history: say where the log begins
            self.write(Text(f"— joined at event #{s.seq}; earlier events are in the record —", "dim"))
        for f in frames[-200:]:
            self.add(s, f)
