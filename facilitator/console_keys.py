"""Which keys the console offers, and where they show: the bindings, the footer, the palette.

Everything here is made from the one table of actions (facilitator/actions.py) and the engine's
permission matrix, so a key cannot be offered in one place and missing in another.

- `KeyGuard`: keys typed just after a dialog closes are the tail of what was
  typed into it, not commands; they are dropped instead of closing a poll or
  adding an empty flag.
- `ConsoleFooter`: at 80 columns only the keys of a running group, and `?`.
- `Keys`: who may use which action now, and the command palette's entries.
"""
from __future__ import annotations

import time
from typing import Iterable

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from facilitator.actions import ACTIONS, BY_NAME, LIVE, NARROW_FOOTER, REPLAY, key_display, may
from facilitator.mirror import name_of
from protocol import commands as c
from protocol.roles import LEADS

# Long enough for the rest of a burst of typing to land, short enough not to be felt.
KEY_GUARD = 0.5

REPLAY_ONLY = {a.action.split("(")[0] for a in REPLAY} - {a.action for a in ACTIONS}


def bindings(actions, priority: Iterable[str] = ()) -> list[Binding]:
    """The footer's and the keys' bindings, from the one table of actions."""
    out = [Binding(a.key, a.action, a.label, show=a.footer, priority=a.key in priority)
           for a in actions if a.key]
    out.append(Binding("f1", "help", "Help", show=False))
    return out


class KeyGuard:
    key_guard = KEY_GUARD
    _modal_closed = 0.0

    def pop_screen(self):
        if len(self.screen_stack) > 1:
            self._modal_closed = time.monotonic()
            if self.key_guard:
                # the footer greys keys while the guard holds: show them live again after it
                self.set_timer(self.key_guard + 0.05, self.refresh_bindings)
        return super().pop_screen()

    def keys_settled(self, action: str) -> bool:
        """False for a main-screen key that arrives while a dialog's typing may still be landing."""
        if len(self.screen_stack) > 1 or not self.key_guard:
            return True
        if time.monotonic() - self._modal_closed >= self.key_guard:
            return True
        # dropped quietly: the person sees the room unchanged, not a surprise
        return False


class ConsoleFooter(Footer):
    """The footer marks the keys that give way at 80 columns (see app.tcss)."""

    def compose(self):
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action not in NARROW_FOOTER:
                widget.add_class("-wide-only")
            yield widget


class Keys:
    @property
    def can_act(self) -> bool:
        return self.replay is None and self.role in LEADS

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.keys_settled(action):
            return False
        if action in LIVE:
            # observers and replays see no keys they could not use: the engine's matrix decides
            return self.may(action)
        if action in REPLAY_ONLY:
            return self.replay is not None
        if action == "invite":
            return self.target is not None and self.target.invite is not None and self.can_act
        return True

    def may(self, action: str) -> bool:
        a = BY_NAME.get(action)
        if a is None:
            return True
        return self.mirror.state is not None and may(self.role, a, replay=self.replay is not None)

    def visible_actions(self):
        replay = self.replay is not None
        table = REPLAY if replay else ACTIONS
        role = "replay" if replay else self.role
        return [a for a in table if replay or may(role, a)
                and (a.action != "invite" or self.check_action("invite", ()))]

    def _runner(self, action: str):
        return lambda: self.call_later(self.run_action, action)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for cmd in super().get_system_commands(screen):
            if cmd.title == "Keys":
                continue        # Textual's side panel of keys: our help screen says more, and Esc closes it
            yield cmd
        for a in (REPLAY if self.replay is not None else ACTIONS):
            name = a.action.split("(")[0]
            if self.check_action(name, ()) and hasattr(self, f"action_{name}"):
                key = f"[{key_display(a.key)}] " if a.key else ""
                yield SystemCommand(a.title, key + a.help, self._runner(a.action))
        s = self.room
        if s is None or not self.can_act:
            return
        yield from self._room_commands(s)

    def _room_commands(self, s) -> Iterable[SystemCommand]:
        """The palette's entries for each timer, breakout room and poll there is now."""
        for t in s.timers.values():
            if t.state == "running":
                yield SystemCommand(f"Pause timer {t.label or t.id}", "", lambda t=t: self.act(c.TimerPause(id=t.id)))
            if t.state == "paused":
                yield SystemCommand(f"Resume timer {t.label or t.id}", "", lambda t=t: self.act(c.TimerResume(id=t.id)))
            if t.state in ("running", "paused"):
                yield SystemCommand(f"Cancel timer {t.label or t.id}", "", lambda t=t: self.act(c.TimerCancel(id=t.id)))
        if s.breakouts == "open":
            for i, members in enumerate(s.rooms, 1):
                yield SystemCommand(f"Listen in to room {i}", ", ".join(name_of(s, pid) for pid in members),
                                    lambda i=i: self.action_listen_in(i))
        me = s.members.get(self.mirror.you_id)
        if me is not None and me.listening:
            yield SystemCommand("Back to the main room", f"Stop listening in to room {me.listening}",
                                lambda: self.action_listen_in(0))
        for p in s.polls.values():
            if p.state == "draft":
                yield SystemCommand(f"Open poll {p.id}", p.question[:60], lambda p=p: self.act(c.PollOpen(id=p.id)))
            elif p.state == "open":
                yield SystemCommand(f"Close poll {p.id}", p.question[:60], lambda p=p: self.act(c.PollClose(id=p.id)))
            if p.state != "draft" and not p.shared:
                yield SystemCommand(f"Share results of poll {p.id}", p.question[:60],
                                    lambda p=p: self.act(c.PollShare(id=p.id)))
