"""The participant's chat log: every word of every message, at any width.

A `RichLog` cannot serve here. It wraps a message once, when it is written, at
`max(its width, min_width)` (78 columns by default), and then crops each
wrapped line at the widget's width. In a chat card 40 columns wide, the crisis
message "… call or text 988 or go to your nearest emergency room …" lost its
middle: the wrapped lines were 78 cells long and only their first 40 showed.
It also never wraps again when the terminal is resized.

Here each message is its own `Static`, which Textual wraps at the width it has
on every layout, folding words longer than a line (URLs) instead of cutting
them, and with markup off so that `[brackets]` in a message are text.
"""
from __future__ import annotations

from typing import Hashable

from textual.containers import VerticalScroll
from textual.widgets import Static


class ChatLog(VerticalScroll):
    DEFAULT_CSS = """
    ChatLog > .chat-line { width: 100%; height: auto; text-wrap: wrap; text-overflow: fold; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self._keys: list[Hashable] = []
        self._lines: list[Static] = []

    @property
    def texts(self) -> list[str]:
        """What each line shows, in order (for tests and for reading back)."""
        return [str(w.content) for w in self._lines]

    def show(self, lines: list[tuple[Hashable, str]]) -> None:
        """Shows exactly `lines` (a key per message, and its text), adding only what is new.

        The view keeps the latest messages, so the old list may have lost lines at its
        front as well as gained some at its end; anything else redraws the whole log."""
        keys = [k for k, _ in lines]
        if keys == self._keys:
            return
        follow = not self._keys or self.max_scroll_y == 0 or self.scroll_y >= self.max_scroll_y - 1
        drop = self._stale(keys)
        if drop:
            self.remove_children(self._lines[:drop])
            self._keys, self._lines = self._keys[drop:], self._lines[drop:]
        new = [Static(text, markup=False, classes="chat-line") for _, text in lines[len(self._keys):]]
        self._keys = keys
        self._lines += new
        if new:
            self.mount_all(new)
            if follow:
                # after the new lines have their height, not before
                self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def _stale(self, keys: list[Hashable]) -> int:
        """How many old lines to drop at the front so that the rest begin `keys` (all of them if
        none do: the log is then drawn again)."""
        old = self._keys
        if keys[: len(old)] == old:
            return 0
        if keys and keys[0] in old:
            start = old.index(keys[0])
            if keys[: len(old) - start] == old[start:]:
                return start
        return len(old)
