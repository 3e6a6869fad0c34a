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
