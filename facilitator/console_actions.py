"""The console's actions, as a mixin of `ConsoleApp`: each key gathers the room, who is
highlighted and the clock, asks `facilitator.decisions` what that means, and carries the answer
out: a command sent, a dialog whose answer becomes commands, or a word on the screen.

The screens-only actions (help, quitting, the person's card, breakouts, attendance, invite
links, the event log) live here too; they send nothing themselves.
"""
from __future__ import annotations

from facilitator.decisions import Confirm, Decision, Dialog, Prompt, Refuse, Selection, Send, decide
from facilitator.actions import role_label
from facilitator.components.roster import Roster
from facilitator.components.waiting import WaitingRoom
from facilitator.screens.agenda import AgendaScreen
from facilitator.screens.attendance import AttendanceScreen
from facilitator.screens.breakouts import BreakoutScreen
from facilitator.screens.helpreq import HelpAnswerScreen
from facilitator.screens.invite import InviteScreen
from facilitator.screens.note import NoteScreen
from facilitator.screens.poll import PollScreen
from facilitator.screens.prompt import ConfirmScreen, PromptScreen
from facilitator.screens.timer import TimerScreen
from protocol import commands as c
from protocol.frames import Ack
from protocol.roles import LEADS

# The dialogs a decision may name: what each is made from is the decision's `args`.
DIALOGS = {
    "note": NoteScreen,
    "flag": lambda pid, name: NoteScreen(pid, name, flag=True),
    "help_answer": HelpAnswerScreen,
    "timer": TimerScreen,
    "agenda": AgendaScreen,
    "poll": PollScreen,
}


class RoomActions:
    # --- who the keys act on -------------------------------------------------------------------

    def selected(self) -> str | None:
        focused = self.focused
        if isinstance(focused, WaitingRoom) and focused.selected:
            return focused.selected
        return self.query_one(Roster).selected

    def selection(self) -> Selection:
        return Selection(person=self.selected(), waiting=self.query_one(WaitingRoom).selected)

    def _need_selected(self, what: str) -> str | None:
        pid = self.selected()
        if pid is None:
            self.notify(f"Select a person in the roster to {what}", severity="warning")
        return pid

    # --- carrying a decision out -----------------------------------------------------------------

    def perform(self, d: Decision) -> None:
        if isinstance(d, Send):
            self._send_all(d.commands)
        elif isinstance(d, Refuse):
            self.notify(d.message, severity=d.severity)
        elif isinstance(d, Prompt):
            self.push_screen(PromptScreen(d.title, d.label, d.value, ok=d.ok, restrict=d.restrict,
                                          danger=d.danger, empty_ok=d.empty_ok),
                             lambda answer: self._send_all(d.then(answer)))
        elif isinstance(d, Confirm):
            self.push_screen(ConfirmScreen(d.question, d.yes), lambda yes: yes and self._send_all(d.commands))
        elif isinstance(d, Dialog):
            self.push_screen(DIALOGS[d.name](*d.args), lambda result: self._send_all(d.then(result)))

    def _send_all(self, cmds) -> None:
        if cmds:
            self.act(*cmds)

    def _decide(self, action: str, *args) -> None:
        self.perform(decide(action, self.room, self.selection(), self.now(), self.role, *args))

    # --- speaking --------------------------------------------------------------------------------

    def action_next_speaker(self) -> None:
        self._decide("next_speaker")

    def action_call_on(self) -> None:
        self._decide("call_on")

    def action_end_turn(self) -> None:
        self._decide("end_turn")

    def action_lower_hand(self) -> None:
        self._decide("lower_hand")

    def action_raise_to_top(self) -> None:
        self._decide("raise_to_top")

    def action_toggle_mute(self) -> None:
        self._decide("toggle_mute")

    def action_toggle_floor(self) -> None:
        self._decide("toggle_floor")

    def action_move_in_queue(self) -> None:
        self._decide("move_in_queue")

    def action_queue_mode(self) -> None:
        self._decide("queue_mode")

    def action_go_around(self) -> None:
        self._decide("go_around")

    def action_stop_go_around(self) -> None:
        self._decide("stop_go_around")

    # --- the waiting room and people ---------------------------------------------------------------

    def action_admit(self) -> None:
        self._decide("admit")

    def on_option_list_option_selected(self, event) -> None:
        # Enter on a waiting person admits them: the common case needs no thought
        if isinstance(event.option_list, WaitingRoom) and self.can_act:
            self.act(c.Admit(target=event.option.id))

    def action_deny(self) -> None:
        self._decide("deny")

    def action_remove(self) -> None:
        self._decide("remove")

    def action_excuse(self) -> None:
        self._decide("excuse")

    def action_note(self) -> None:
        self._decide("note")

    def action_flag(self) -> None:
        self._decide("flag")

    def action_clear_flag(self) -> None:
        self._decide("clear_flag")

    def action_person(self) -> None:
        from facilitator.screens.person import PersonScreen
        pid = self._need_selected("see their notes and flags")
        if pid is None:
            return

        def chosen(action: str | None) -> None:
            if action and self.check_action(action, ()):
                getattr(self, f"action_{action}")()
        self.push_screen(PersonScreen(pid, self.can_act, self.room, self.now()), chosen)

    def on_data_table_row_selected(self, event) -> None:
        # Enter on a roster row: the person's card (a settled key only, like any other)
        if self.keys_settled("person") and len(self.screen_stack) == 1:
            self.action_person()

    # --- messages and help -----------------------------------------------------------------------

    def action_chat(self) -> None:
        self._decide("chat")

    def action_message_person(self) -> None:
        self._decide("message_person")

    def action_ack_help(self) -> None:
        self._decide("ack_help")

    # --- timers, the agenda, polls -------------------------------------------------------------------

    def action_timer(self) -> None:
        self._decide("timer")

    def action_extend_timer(self) -> None:
        self._decide("extend_timer")

    def action_agenda_next(self) -> None:
        self._decide("agenda_next")

    def action_agenda(self) -> None:
        self._decide("agenda")

    def action_poll(self) -> None:
        self._decide("poll")

    def action_toggle_poll(self) -> None:
        self._decide("toggle_poll")

    def action_share_poll(self) -> None:
        self._decide("share_poll")

    # --- breakouts and the session ---------------------------------------------------------------------

    def action_breakouts(self) -> None:
        self.push_screen(BreakoutScreen(self.room, self.mirror.you_id))

    def action_listen_in(self, room: int | None = None) -> None:
        self._decide("listen_in", room)

    def action_open_session(self) -> None:
        self._decide("open_session")

    def action_close_session(self) -> None:
        self._decide("close_session")

    def action_survey(self) -> None:
        from facilitator.screens.survey import SurveyScreen
        self.push_screen(SurveyScreen(self.room))

    def action_toggle_survey(self) -> None:
        self._decide("toggle_survey")

    def action_attendance(self) -> None:
        self.push_screen(AttendanceScreen(self.room, self.now()))

    def attendance_exported(self, path: str) -> None:
        self.last_export = path
        self.notify(f"Attendance written to {path}", title="Exported", timeout=8)

    def action_invite(self) -> None:
        if self.target is not None and self.target.invite is not None:
            self.push_screen(InviteScreen(self.target.invite, self.target.staff_link))

    def action_toggle_log(self) -> None:
        self.query_one("#bottom").toggle_class("-log")

    def action_help(self) -> None:
        from facilitator.screens.help import HelpScreen
        if len(self.screen_stack) > 1:
            return
        label = "" if self.replay is not None else role_label(self.role)
        self.push_screen(HelpScreen(self.visible_actions(), label))

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
                    if isinstance(await self.send(c.Close()), Ack):
                        self.exit()
                self.run_worker(close_then_quit(), group="commands", exit_on_error=False)
        self.push_screen(QuitScreen(local=local, may_close=self.may("close_session"),
                                    port=getattr(self.target, "port", None),
                                    again=getattr(self.target, "again", "")), done)
