"""The active poll with its counts as bars, updated as votes arrive."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from facilitator.components import update_if_changed

from facilitator.mirror import active_poll, poll_counts, present

LABEL_BESIDE = 12
KIND = {"single": "choice", "multi": "multiple", "scale": "scale", "phq2": "PHQ-2", "gad2": "GAD-2"}


class PollPanel(Static):
    def on_mount(self) -> None:
        self.border_title = "Poll"
        self._sig = None
        self._room = None

    def on_resize(self) -> None:
        # the bars are as long as the panel is wide: the room last shown, drawn again
        self._sig = None
        self.show(self._room)

    def show(self, s) -> None:
        self._room = s
        if s is None:
            return
        p = active_poll(s)
        if p is None:
            self._sig = None
            update_if_changed(self, Text("no poll  (p to create)", "dim"))
            self.border_title = "Poll"
            return
        rows, total = poll_counts(p)
        sig = (p.id, p.state, p.shared, tuple(rows), total, len(present(s)))
        if sig == self._sig:
            return
        self._sig = sig
        width = max(6, min(30, (self.size.width or 36) - 14))
        most = max([n for _, n in rows] + [1])
        t = Text()
        t.append(p.question[:200] + "\n", "bold")
        longest = max([len(k) for k, _ in rows] + [1])
        # short labels sit beside their bars; a long one ("Calling a sponsor") gets its own
        # line above its bar rather than being cut
        beside = longest <= LABEL_BESIDE
        label_w = longest if beside else 0
        for key, n in rows:
            filled = round(n / most * width) if n else 0
            if beside:
                t.append(f"{key:>{label_w}} ", "")
            else:
                t.append(f"{key}\n", "")
                t.append("  ")
            t.append("█" * filled, "cyan")
            t.append("·" * (width - filled), "dim")
            t.append(f" {n}\n")
        t.append(f"{total} answered · {len(present(s))} present", "dim")
        if p.anonymous:
            t.append(" · anonymous", "magenta")
        update_if_changed(self, t)
        state = {"draft": "draft", "open": "● open", "closed": "closed"}[p.state]
        self.border_title = f"Poll {p.id} · {KIND.get(p.kind, p.kind)} · {state}" + (" · shared" if p.shared else "")
        self.set_class(p.state == "open", "-open")
