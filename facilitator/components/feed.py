"""Alerts for facilitators' eyes (help, check-in scores, flags, silent drops) and chat.

Alerts and chat share one feed because a facilitator reads them in one
glance; alerts stand out by symbol and colour. Lines are appended as they
arrive rather than redrawn, so a busy chat costs one line per message.
"""
from __future__ import annotations

import time as _time

from rich.text import Text
from textual.widgets import RichLog

from facilitator.components import BatchedWrites
from facilitator.mirror import name_of

ALERT = {"help": ("✚ HELP", "bold white on red"), "check_in": ("◆ CHECK-IN", "bold magenta"),
         "flag": ("⚑ FLAG", "bold yellow"), "drop_overdue": ("⚠ GONE", "bold red")}


def hhmm(t: float) -> str:
    return _time.strftime("%H:%M", _time.localtime(t))


class Feed(BatchedWrites, RichLog):
    def __init__(self, **kw):
        super().__init__(wrap=True, markup=False, max_lines=400, min_width=20, **kw)
        self._seen: set[int] = set()

    def on_mount(self) -> None:
        self.border_title = "Alerts & chat"

    def show(self, s, fresh: bool = False) -> None:
        if s is None:
            return
        if fresh:
            self.drop_pending()
            self.clear()
            self._seen.clear()
        items = [(a.at, 0, a) for a in s.alerts if id(a) not in self._seen]
        items += [(c.at, 1, c) for c in s.chat if id(c) not in self._seen]
        items.sort(key=lambda x: (x[0], x[1]))
        for at, kind, it in items:
            self._seen.add(id(it))
            t = Text(hhmm(at) + " ", "dim")
            if kind == 0:
                label, style = ALERT.get(it.kind, (it.kind.upper(), "bold"))
                t.append(label, style)
                t.append(f" {name_of(s, it.person)}", "bold")
                t.append(f" {it.text}")
            else:
                t.append(it.name or name_of(s, it.by), "bold cyan" if s.members.get(it.by) and
                         s.members[it.by].role != "participant" else "bold")
                if it.to == "facilitators":
                    t.append(" → facilitators", "magenta")
                elif it.to == "rooms":
                    t.append(" → every breakout room", "magenta")
                elif it.to != "all":
                    t.append(f" → {name_of(s, it.to)}", "magenta")
                if it.room:
                    t.append(f" [R{it.room}]", "dim")
                t.append(f": {it.text}")
            self.write_soon(t)
        open_help = sum(1 for h in s.help.values() if h.acknowledged_by is None)
        self.border_title = "Alerts & chat" + (f" · ✚ {open_help} open help" if open_help else "")
        self.set_class(open_help > 0, "-help")
