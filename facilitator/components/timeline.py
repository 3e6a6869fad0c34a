"""The replay's position: which event, at what time into the session."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from facilitator.mirror import fmt_secs


class Timeline(Static):
    def show(self, index: int, count: int, at: float | None, start: float | None, what: str) -> None:
        t = Text()
        t.append("⏵ replay ", "bold magenta")
        t.append(f"event {index}/{count}  ")
        if at is not None and start is not None:
            t.append(f"@ {fmt_secs(at - start)}  ", "bold")
        width = max(10, (self.size.width or 80) - 60)
        pos = round(index / count * width) if count else 0
        t.append("━" * pos, "magenta")
        t.append("─" * (width - pos), "dim")
        t.append(f"  {what[:60]}")
        self.update(t)
