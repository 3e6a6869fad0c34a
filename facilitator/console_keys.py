"""The console's newer actions, as mixins of `ConsoleApp` (app.py stays readable in one sitting).

- `KeyGuard`: keys typed just after a dialog closes are the tail of what was
  typed into it, not commands; they are dropped instead of closing a poll or
  adding an empty flag.
- `PeopleActions`: reaching one person (a private message, a help request
  answered with who asked), their card of notes and flags, resolving flags.
- `SessionActions`: help, quitting, stopping a go-around, the agenda's list.
- `ConsoleFooter`: at 80 columns only the keys of a running group, and `?`.
"""
from __future__ import annotations

import base64
import json
import time

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from facilitator.actions import ACTIONS, NARROW_FOOTER, REPLAY, may
from facilitator.mirror import name_of, open_help
from protocol import commands as c
from protocol.roles import LEADS

# Long enough for the rest of a burst of typing to land, short enough not to be felt.
KEY_GUARD = 0.5


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


def token_role(token: str) -> str | None:
    """The role a token claims, read without checking its signature: only to explain a
    mistake before connecting. The server still decides who may do what."""
    try:
        payload = token.split(".")[0]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims.get("role") if isinstance(claims, dict) else None
    except (ValueError, UnicodeDecodeError, IndexError):
        return None


def staff_token_problem(role: str | None) -> str | None:
    if role == "participant":
        return ("This is a participant's token: the staff console needs a facilitator, co-facilitator or "
                "observer token. A participant joins with: facilitator join URL --token-file FILE")
    return None


class PeopleActions:
    def action_person(self) -> None:
        from facilitator.screens.person import PersonScreen
        pid = self._need_selected("see their notes and flags")
        if pid is None:
            return

        def chosen(action: str | None) -> None:
            if action and self.check_action(action, ()):
                getattr(self, f"action_{action}")()
        self.push_screen(PersonScreen(pid, self.can_act), chosen)

    def on_data_table_row_selected(self, event) -> None:
        # Enter on a roster row: the person's card (a settled key only, like any other)
        if self.keys_settled("person") and len(self.screen_stack) == 1:
            self.action_person()

    def action_message_person(self) -> None:
        pid = self._need_selected("write to")
        if pid is None:
            return
        self._message(pid, f"Message to {name_of(self.room, pid)}", "Only they (and staff) see it")

    def _message(self, pid: str, title: str, label: str, then: c.Command | None = None) -> None:
        from facilitator.screens.prompt import PromptScreen

        def done(text: str | None) -> None:
            if text:
                self.act(*([then] if then else []), c.Chat(text=text, to=pid))
        self.push_screen(PromptScreen(title, label, ok="Send"), done)

    def action_ack_help(self) -> None:
        from facilitator.screens.helpreq import HelpAnswerScreen
        pending = open_help(self.room) if self.room else []
        if not pending:
            self.notify("No open help request", severity="information")
            return

        def done(answer: tuple[int, str] | None) -> None:
            if answer is None:
                return
            help_id, reply = answer
            h = self.room.help.get(help_id)
            cmds: list[c.Command] = [c.HelpAcknowledge(help_id=help_id)]
            if reply and h is not None:
                cmds.append(c.Chat(text=reply, to=h.person))
            self.act(*cmds)
        self.push_screen(HelpAnswerScreen(sorted(pending, key=lambda h: h.help_id)), done)

    def action_flag(self) -> None:
        from facilitator.screens.note import NoteScreen
        if pid := self._need_selected("flag"):
            self.push_screen(NoteScreen(pid, name_of(self.room, pid), flag=True), lambda cmd: cmd and self.act(cmd))

    def action_clear_flag(self) -> None:
        from facilitator.screens.prompt import PromptScreen
        pid = self._need_selected("clear flags of")
        if pid is None:
            return
        m = self.room.members.get(pid)
        if m is None or not any(f.cleared_at is None for f in m.flags):
            self.notify(f"{name_of(self.room, pid)} has no open flag", severity="information")
            return
        self.push_screen(PromptScreen(f"Clear flags: {m.name}", "How it was resolved (kept in the record)",
                                      ok="Clear flags", empty_ok=True),
                         lambda reason: reason is not None and self.act(c.FlagClear(target=pid, reason=reason)))


class SessionActions:
    def visible_actions(self):
        replay = self.replay is not None
        table = REPLAY if replay else ACTIONS
        role = "replay" if replay else self.role
        return [a for a in table if replay or may(role, a)
                and (a.action != "invite" or self.check_action("invite", ()))]

    def action_help(self) -> None:
        from facilitator.screens.help import HelpScreen
        if len(self.screen_stack) > 1:
            return
        label = "" if self.replay is not None else {"cofacilitator": "co-facilitator"}.get(self.role, self.role)
        self.push_screen(HelpScreen(self.visible_actions(), label))

    def _runner(self, action: str):
        return lambda: self.call_later(self.run_action, action)

    def session_is_open(self) -> bool:
        return self.replay is None and self.room is not None and self.room.phase == "open"

    async def action_quit(self) -> None:
        from facilitator.screens.quit import QuitScreen
        if not self.session_is_open() or self.role not in LEADS:
            self.exit()
            return
        local = self.target is not None and self.target.stop is not None

        def done(choice: str | None) -> None:
            if choice == "quit":
                self.exit()
            elif choice == "close":
                async def close_then_quit() -> None:
                    from protocol.frames import Ack
                    if isinstance(await self.send(c.Close()), Ack):
                        self.exit()
                self.run_worker(close_then_quit(), group="commands", exit_on_error=False)
        self.push_screen(QuitScreen(local=local, may_close=self.may("close_session"),
                                    port=getattr(self.target, "port", None)), done)

    def action_stop_go_around(self) -> None:
        if self.room is None or self.room.go_around is None:
            self.notify("No go-around is running", severity="information")
            return
        self.act(c.GoAroundStop())

    def action_agenda(self) -> None:
        from facilitator.screens.agenda import AgendaScreen
        s = self.room
        if s is None or not s.agenda:
            self.notify("This session has no agenda", severity="information")
            return
        self.push_screen(AgendaScreen(), lambda index: index is not None and self.act(c.AgendaGoto(index=index)))
