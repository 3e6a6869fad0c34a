"""Modal screens: each gathers what one action needs, then hands commands back."""


def steady_cursors(screen) -> None:
    """No blinking text cursors when headless: a test's screenshot must not depend
    on the instant it was taken."""
    if screen.app.is_headless:
        from textual.widgets import Input
        for widget in screen.query(Input):
            widget.cursor_blink = False
