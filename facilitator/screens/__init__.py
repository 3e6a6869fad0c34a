"""Modal screens: each gathers what one action needs, then hands commands back."""


def steady_cursors(screen) -> None:
    """No blinking text cursors when headless: a test's screenshot must not depend
    on the instant it was taken."""
    if screen.app.is_headless:
        from textual.widgets import Input
        for widget in screen.query(Input):
            widget.cursor_blink = False


class FollowsRoom:
    """A dialog that shows the room: it draws (`show`) the state it was opened with, and again
    each time the app's drawing code sends `RoomChanged` (facilitator/drawing.py)."""

    state = None
    at = 0.0          # the display clock when that state was drawn
    you = None

    def on_room_changed(self, event) -> None:
        self.state, self.at, self.you = event.state, event.now, event.you
        self.show()
