"""The main screen's panels, one module (and one stylesheet) each.

Panels read the room from `app.room` and the display clock from `app.now()`;
the app calls `show()` when the state changed. Countdowns re-render only
themselves, once a second, from deadlines in the state.
"""
