"""The main screen's panels, one module (and one stylesheet) each.

Panels are given what they draw: the room's state and the display clock's `now`,
by the app's drawing code (facilitator/drawing.py) when the state changed, and
once a second to the countdowns, which re-render only themselves from deadlines
in the state. A panel never reads the app: it draws what it was given, so it can
be drawn from a replay's instant as well as from a live room.
"""


def update_if_changed(widget, content) -> bool:
    """`Static.update` re-lays-out the whole screen; skip it when nothing changed,
    and skip the layout when the widget's size cannot change.

    During a burst most events leave most panels as they were; redrawing
    them anyway is what made a key press take tens of milliseconds to show.
    """
    old = getattr(widget, "_shown", None)
    if old == content:
        return False
    widget._shown = content
    widget.update(content, layout=False)
    if old is None or _size_changed(widget):
        widget.refresh(layout=True)
    return True


def _size_changed(widget) -> bool:
    """Whether the content just set needs another size than the one laid out.

    Only a side sized `auto` follows the content: a fixed-height panel, a
    countdown ticking or a count going up must not reflow the whole screen.
    The text is measured as Textual will (wrapped at the current width), so a
    long poll question that wraps does not count as a change on every vote.
    """
    styles = widget.styles
    region = widget.content_region
    if not region.width:
        return True                      # not laid out yet
    visual = widget.visual
    if styles.width is not None and styles.width.is_auto:
        parent = widget.parent.content_region.width if widget.parent is not None else region.width
        width = visual.get_optimal_width(styles, parent)
        if width != region.width and not (width > region.width and _at_max(widget, "width")):
            return True
    if styles.height is not None and styles.height.is_auto:
        height = visual.get_height(styles, region.width)
        # a panel at its max-height stays there while its text grows or shrinks past it
        return height != region.height and not (height > region.height and _at_max(widget, "height"))
    return False


def _at_max(widget, side: str) -> bool:
    top = getattr(widget.styles, f"max_{side}")
    if top is None or not top.is_cells:
        return False
    return getattr(widget.size, side) >= top.value


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
