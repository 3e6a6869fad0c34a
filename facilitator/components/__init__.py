"""The main screen's panels, one module (and one stylesheet) each.

Panels read the room from `app.room` and the display clock from `app.now()`;
the app calls `show()` when the state changed. Countdowns re-render only
themselves, once a second, from deadlines in the state.
"""


def update_if_changed(widget, content) -> bool:
    """`Static.update` re-lays-out the screen; skip it when nothing changed.

    During a burst most events leave most panels as they were; redrawing
    them anyway is what made a key press take tens of milliseconds to show.
    """
    old = getattr(widget, "_shown", None)
    if old == content:
        return False
    widget._shown = content
    # a new layout only when the text may need a different height: a countdown
    # ticking or a count going up must not reflow the whole screen
    layout = True
    if old is not None and hasattr(old, "plain") and hasattr(content, "plain"):
        width = widget.content_region.width or widget.size.width
        lines = content.plain.split("\n")
        layout = (old.plain.count("\n") != len(lines) - 1
                  or any(len(line) >= width for line in lines))
    widget.update(content, layout=layout)
    return True


class BatchedWrites:
    """For a RichLog: lines arriving one event at a time are written together,
    at most five times a second.

    Each write grows the log's virtual size, which makes Textual lay out and
    repaint the whole screen; during a burst of a hundred events a second that
    repaint, not the text, is what a key press would wait behind."""

    FLUSH_EVERY = 0.2

    def write_soon(self, line) -> None:
        pending = self.__dict__.setdefault("_pending_lines", [])
        pending.append(line)
        if len(pending) == 1:
            self.set_timer(self.FLUSH_EVERY, self.flush_lines)

    def flush_lines(self) -> None:
        pending = self.__dict__.get("_pending_lines") or []
        self.__dict__["_pending_lines"] = []
        for line in pending:
            self.write(line)

    def drop_pending(self) -> None:
        self.__dict__["_pending_lines"] = []
