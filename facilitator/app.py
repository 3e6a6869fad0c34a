"""The facilitator console: one screen to run a live group from the keyboard.

The app mirrors the room (the welcome's snapshot plus every event, folded
with the server's `evolve`), draws its panels from that mirror, and turns
keys into commands. The server decides everything: a refused command comes
back as a notification with the server's own words, and what a command
changed comes back as events like anyone else's.

Panels are redrawn at most every few tens of milliseconds however many events
arrive; countdowns redraw themselves once a second from deadlines.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from facilitator.actions import ACTIONS, LIVE, REPLAY, key_display, may
from facilitator.console_keys import (ConsoleFooter, KeyGuard, PeopleActions, SessionActions,
                                      staff_token_problem, token_role)
from facilitator.components.eventlog import EventLog
from facilitator.components.feed import Feed
from facilitator.components.header import SessionHeader
from facilitator.components.poll import PollPanel
from facilitator.components.queue import SpeakingQueue
from facilitator.components.roster import Roster
from facilitator.components.timeline import Timeline
from facilitator.components.timers import TimersPanel
from facilitator.components.waiting import WaitingRoom
from facilitator.describe import describe
from facilitator.link import Link
from facilitator.mirror import LEADS, Mirror, active_poll, name_of, open_help, waiting
from facilitator.program_actions import ProgramActions, RemotePrograms
from facilitator.replay import Replay
from facilitator.survey_actions import SurveyActions, close_question
from facilitator.screens.attendance import AttendanceScreen
from facilitator.screens.breakouts import BreakoutScreen
from facilitator.screens.invite import InviteScreen
from facilitator.screens.note import NoteScreen
from facilitator.screens.poll import PollScreen
from facilitator.screens.prompt import ConfirmScreen, PromptScreen
from facilitator.screens.timer import TimerScreen, parse_duration
from protocol import commands as c
from protocol.frames import Ack, Error, EventFrame, Welcome
from protocol.state import RoomState
from server.engine.timers import remaining

log = logging.getLogger("facilitator")

HERE = os.path.dirname(__file__)


@dataclass
class Target:
    """Where to connect, and what an embedded server lets this console do besides."""
    url: str
    token: str
    invite: Callable[[str, str], tuple[str, str, str]] | None = None
    stop: Callable[[], Awaitable[None]] | None = None
    note: str = ""
    port: int | None = None     # a local room's port, kept across restarts
    staff_link: str | None = None   # the staff voice page, with this console's own token
    hub: object | None = None   # a local server's hub: the program screen reads and writes through it
    program: tuple[str, object] | None = None   # (program id, date) of a program's session
    http_url: str = ""


REPLAY_ONLY = {a.action.split("(")[0] for a in REPLAY} - {a.action for a in ACTIONS}


def _bindings(actions) -> list[Binding]:
    """The footer's and the keys' bindings, from the one table of actions."""
    out = [Binding(a.key, a.action, a.label, show=a.footer) for a in actions if a.key]
    out.append(Binding("f1", "help", "Help", show=False))
    return out


def default_export_dir() -> str:
    from platformdirs import user_data_dir
    return os.path.join(user_data_dir("group-console", appauthor=False), "exports")


class ConsoleApp(KeyGuard, PeopleActions, SessionActions, ProgramActions, RemotePrograms, SurveyActions, App):
    TITLE = "Group console"
    CSS_PATH = [os.path.join(HERE, p) for p in (
        "app.tcss", "screens/modals.tcss", "components/header.tcss", "components/roster.tcss",
        "components/waiting.tcss", "components/queue.tcss", "components/poll.tcss",
        "components/timers.tcss", "components/feed.tcss", "components/eventlog.tcss",
        "components/timeline.tcss")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = _bindings(ACTIONS)

    def __init__(self, *, url: str | None = None, token: str | None = None,
                 setup: Callable[["ConsoleApp"], Awaitable[Target]] | None = None,
                 replay: Replay | None = None, clock: Callable[[], float] | None = None,
                 export_dir: str | None = None, backoff: tuple[float, float] = (0.25, 8.0),
                 own_process: bool = False, key_guard: float | None = None, note: str = ""):
        super().__init__()
        if key_guard is not None:
            self.key_guard = key_guard
        # The facilitator command runs one console per process; then the collector
        # policy of a server suits it too: under a burst of events, full collections
        # over Textual's many small objects were the worst key-to-screen delays.
        self.own_process = own_process
        self._pauses = None
        self.target = Target(url, token) if url is not None else None
        self.setup = setup
        self.replay = replay
        self.clock = clock
        # exports name people: by default they go beside the record in the data directory,
        # never into whatever directory the console was started from
        self.export_dir = export_dir or default_export_dir()
        self.start_note = note
        self.backoff = backoff
        self.mirror = Mirror()
        self.link: Link | None = None
        self.offset = 0.0              # server clock minus ours, from the welcome
        self.conn = "replay" if replay is not None else "connecting"
        self.need_fresh = False        # a seq gap: ask for a snapshot instead of a resume
        self._pending = False
        self._fresh = False
        self.drawn_seq = 0             # the seq the panels last showed (tests and the benchmark wait on it)
        if replay is not None:
            self.mirror.state = replay.state
            self.mirror.role = "replay"

    # --- what the panels read ---------------------------------------------------------

    @property
    def room(self) -> RoomState | None:
        return self.mirror.state

    @property
    def role(self) -> str:
        return self.mirror.role

    def now(self) -> float:
        if self.clock is not None:
            return self.clock()
        if self.replay is not None:
            return self.replay.at or 0.0
        return time.time() + self.offset

    def me_label(self) -> str:
        if self.replay is not None:
            return "read-only"
        if not self.mirror.you_id:
            return ""
        role = {"cofacilitator": "co-facilitator"}.get(self.role, self.role)
        return f"{self.mirror.you_name or self.mirror.you_id} · {role}"

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield SessionHeader(id="header")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield Roster(id="roster")
                with Horizontal(id="bottom"):
                    yield Feed(id="feed")
                    yield EventLog(id="log")
            with VerticalScroll(id="right"):
                yield WaitingRoom(id="waiting")
                yield SpeakingQueue(id="queue")
                yield TimersPanel(id="timers")
                yield PollPanel(id="poll")
        if self.replay is not None:
            yield Timeline(id="timeline")
        yield Static("", id="offline-note")
        yield ConsoleFooter(compact=True)

    def on_mount(self) -> None:
        if self.own_process:
            from server import pauses
            self._pauses = pauses.install()
        self.query_one(SessionHeader).connection(self.conn)
        self.query_one(Roster).focus()
        # the footer composes itself on a bindings change; a replay has no welcome to cause one
        self.call_after_refresh(self.refresh_bindings)
        if self.replay is not None:
            self.sub_title = "replay"
            self._seek(self.replay.count)
        else:
            self.run_worker(self._connect(), name="link", group="link", exit_on_error=False)
        self._draw()

    async def _connect(self) -> None:
        if self.setup is not None:
            self.query_one(SessionHeader).connection("connecting", "starting the local server")
            try:
                self.target = await self.setup(self)
            except Exception as exc:   # noqa: BLE001 - shown to the user, not raised into Textual
                log.exception("setup failed")
                self._setup_failed = True
                self._status("refused", str(exc))
                self.notify(str(exc), title="Could not start", severity="error", timeout=30)
                return
            if self.target.note:
                self.notify(self.target.note, timeout=12)
        elif self.start_note:
            self.notify(self.start_note, timeout=12)
        problem = staff_token_problem(token_role(self.target.token))
        if problem:
            self._status("refused", problem)
            return
        self.link = Link(self.target.url, self.target.token, on_welcome=self._on_welcome,
                         on_event=self._on_event, on_status=self._status,
                         resume_from=self._resume_from, backoff=self.backoff, on_health=self._on_health)
        await self.link.run()

    async def on_unmount(self) -> None:
        if self.link is not None:
            self.link.stopping = True
            try:
                await self.link.stop()
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        if self.target is not None and self.target.stop is not None:
            await self.target.stop()
        if self._pauses is not None:
            self._pauses.uninstall()
            self._pauses = None

    # --- frames from the link (on the app's loop, in socket order) ------------------------

    def _resume_from(self) -> int | None:
        if self.need_fresh or self.mirror.state is None:
            self.need_fresh = False
            return None
        return self.mirror.seq

    def _on_welcome(self, w: Welcome) -> None:
        problem = staff_token_problem(w.you.role if getattr(w, "you", None) is not None else None)
        if problem:
            # a participant's welcome in a staff console: stop, and say what to do instead
            self._status("refused", problem)
            if self.link is not None:
                self.run_worker(self.link.stop(), group="link-drop")
            return
        self.offset = w.server_time - time.time()
        if self.mirror.welcome(w):
            self._fresh = True
        self._schedule()
        self.refresh_bindings()
        self.offer_programs()

    def _on_event(self, f: EventFrame) -> None:
        gaps = self.mirror.gaps
        if not self.mirror.fold(f):
            return
        if f.ev.__class__.__name__ == "SessionClosed":
            self.call_later(self.offer_note)
        if self.mirror.gaps != gaps:
            log.warning("seq gap before %d: asking for a fresh snapshot", f.seq)
            self.need_fresh = True
            if self.link is not None:
                self.run_worker(self.link.drop(), group="link-drop")
        try:
            self.query_one(EventLog).add(self.mirror.state, f)
        except NoMatches:          # starting or shutting down: the log is not there
            pass
        self._schedule()

    def _on_health(self, h) -> None:
        try:
            self.query_one(SessionHeader).record_health(h.record, h.detail)
        except NoMatches:
            return

    def _status(self, status: str, detail: str) -> None:
        self.conn = status
        try:
            self.query_one(SessionHeader).connection(status, detail)
        except NoMatches:
            return
        self._offline_note(status, detail)
        if status == "offline" and self.mirror.state is not None:
            self.notify("Connection lost: showing the last state; reconnecting…",
                        severity="warning", timeout=4)
        elif status == "refused":
            self.notify(detail, title="The server refused this console", severity="error", timeout=30)

    def _offline_note(self, status: str, detail: str) -> None:
        """Before any room arrived, the body says why it is empty and what happens next."""
        note = self.query_one("#offline-note", Static)
        if self.room is not None or status in ("online", "connecting", "replay"):
            note.remove_class("-shown")
            self.query_one("#body").display = True
            return
        self.query_one("#body").display = False     # empty panels would only look like an empty room
        url = self.target.url if self.target is not None else ""
        if status == "refused" and getattr(self, "_setup_failed", False):
            text = f"Could not start the local server.\n{detail}"
        elif status == "refused":
            text = f"The server refused this console.\n{detail}"
        else:
            text = (f"Cannot reach the session server at {url}.\n{detail}\n"
                    "Retrying by itself. Check the address, or that the server runs "
                    "(session-server serve). q quits.")
        note.update(text)
        note.add_class("-shown")

    # --- drawing -------------------------------------------------------------------------------

    def _schedule(self) -> None:
        """Coalesces bursts: one redraw for however many events arrived meanwhile.

        The redraw runs on the next turn of the loop, after every frame already
        read; a redraw costs a millisecond or two, and Textual itself paints the
        terminal at most 60 times a second, so no further throttle is needed.
        """
        if self._pending:
            return
        self._pending = True
        self.call_later(self._draw)

    def _draw(self) -> None:
        self._pending = False
        if not self.is_mounted or self.room is None:
            return
        if not self.query(SessionHeader):
            return
        try:
            self._draw_panels()
        except NoMatches:
            # a panel's parts are not mounted yet, or already gone while the app
            # shuts down: the next event draws again
            self._pending = False

    def _draw_panels(self) -> None:
        fresh = self._fresh
        if fresh:
            self.query_one(EventLog).restart(self.room, self.mirror.log)
        self.query_one(SessionHeader).show()
        self.query_one(Roster).request()
        self.query_one(WaitingRoom).show()
        self.query_one(SpeakingQueue).show()
        self.query_one(PollPanel).show()
        self.query_one(TimersPanel).show()
        self.query_one(Feed).show(fresh=fresh)
        self.query_one("#waiting").display = bool(waiting(self.room)) or self.room.phase == "open"
        for screen in self.screen_stack[1:]:
            if hasattr(screen, "room_changed"):
                screen.room_changed()
        self._fresh = False       # only once every panel has drawn the fresh picture
        self.drawn_seq = self.room.seq

    # --- who may do what -----------------------------------------------------------------------

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
        from facilitator.actions import BY_NAME
        a = BY_NAME.get(action)
        if a is None:
            return True
        return self.mirror.state is not None and may(self.role, a, replay=self.replay is not None)

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

    # --- sending ---------------------------------------------------------------------------------

    async def send(self, cmd: c.Command) -> Ack | Error | None:
        """Sends one command; a refusal is shown with the server's reason."""
        if self.link is None or self.conn != "online":
            # refused at once: a key pressed while offline must not run by surprise on reconnect
            self.notify("Offline: not sent. Press it again once the header says online.",
                        title="Not sent", severity="warning", timeout=5)
            return None
        # a command already under way when the link drops is retried once, only if the
        # link is back within a few seconds; later it is reported, never run by surprise
        result = await self.link.send(cmd, wait_connected=3.0)
        if isinstance(result, Error):
            self.notify(result.message, title=f"Refused ({result.code})", severity="error", timeout=6)
        elif result is None:
            self.notify("No answer from the server; it will apply the command at most once.",
                        severity="warning")
        return result

    def act(self, *cmds: c.Command) -> None:
        """Sends commands in order, off the UI path; stops at the first refusal."""
        async def run() -> None:
            for cmd in cmds:
                if not isinstance(await self.send(cmd), Ack):
                    return
        self.run_worker(run(), group="commands", exit_on_error=False)

    # --- who the keys act on ------------------------------------------------------------------

    def selected(self) -> str | None:
        focused = self.focused
        if isinstance(focused, WaitingRoom) and focused.selected:
            return focused.selected
        return self.query_one(Roster).selected

    def _need_selected(self, what: str) -> str | None:
        pid = self.selected()
        if pid is None:
            self.notify(f"Select a person in the roster to {what}", severity="warning")
        return pid

    # --- actions: speaking -----------------------------------------------------------------------

    def action_next_speaker(self) -> None:
        self.act(c.NextSpeaker())

    def action_call_on(self) -> None:
        if pid := self._need_selected("call on"):
            self.act(c.CallOn(target=pid))

    def action_end_turn(self) -> None:
        self.act(c.EndTurn())

    def action_lower_hand(self) -> None:
        if pid := self._need_selected("lower a hand"):
            self.act(c.LowerHand(target=pid))

    def action_raise_to_top(self) -> None:
        if pid := self._need_selected("move up the queue"):
            self.act(c.MoveInQueue(target=pid, position=1))

    def action_toggle_mute(self) -> None:
        """A staff mute holds until staff lift it: the same key does both."""
        if pid := self._need_selected("mute or unmute"):
            muted = self.room is not None and pid in self.room.muted
            self.act(c.UnmuteMic(target=pid) if muted else c.MuteMic(target=pid))

    def action_toggle_floor(self) -> None:
        self.act(c.HoldFloor(on=not (self.room is not None and self.room.floor_held)))

    def action_move_in_queue(self) -> None:
        pid = self._need_selected("move in the queue")
        if pid is None:
            return

        def done(answer: str | None) -> None:
            if answer:
                self.act(c.MoveInQueue(target=pid, position=max(1, int(answer))))
        self.push_screen(PromptScreen(f"Move {name_of(self.room, pid)} in the queue",
                                      "Place in the queue (1 = speaks next)", "1", restrict=r"\d{0,3}",
                                      ok="Move"), done)

    def action_queue_mode(self) -> None:
        s = self.room
        self.act(c.QueueMode(mode="fifo" if s is not None and s.queue_mode == "fair" else "fair"))

    def action_go_around(self) -> None:
        def done(answer: str | None) -> None:
            secs = parse_duration(answer + ("s" if answer and answer.isdigit() else "")) if answer else None
            if secs:
                self.act(c.GoAround(seconds=secs))
        self.push_screen(PromptScreen("Go-around", "Seconds each (e.g. 60, 90s, 2:00)", "60"), done)

    # --- actions: admission ------------------------------------------------------------------------

    def _waiting_target(self) -> str | None:
        w = self.query_one(WaitingRoom)
        if w.selected:
            return w.selected
        s = self.room
        people = waiting(s) if s is not None else []
        ready = [m for m in people if m.agreed or not s.agreement]
        return (ready or people)[0].id if people else None

    def action_admit(self) -> None:
        pid = self._waiting_target()
        if pid is None:
            self.notify("Nobody is waiting", severity="information")
            return
        self.act(c.Admit(target=pid))

    def action_deny(self) -> None:
        pid = self._waiting_target()
        if pid is None:
            self.notify("Nobody is waiting", severity="information")
            return
        name = name_of(self.room, pid)
        self.push_screen(ConfirmScreen(f"Turn {name} away from this session?", "Deny"),
                         lambda yes: yes and self.act(c.Deny(target=pid)))

    def action_remove(self) -> None:
        if pid := self._need_selected("remove"):
            name = name_of(self.room, pid)
            # a removal is final for this session: the dialog says so and names the person
            self.push_screen(PromptScreen(f"Remove {name} from this session?",
                                          f"{name} leaves at once and cannot come back to this session. "
                                          "Reason (facilitators only):", ok=f"Remove {name}", danger=True, empty_ok=True),
                             lambda reason: reason is not None and self.act(c.Remove(target=pid, reason=reason)))

    def action_excuse(self) -> None:
        if pid := self._need_selected("excuse"):
            self.push_screen(PromptScreen(f"Excuse {name_of(self.room, pid)}", "Reason", "excused"),
                             lambda reason: reason is not None and self.act(c.Excuse(target=pid, reason=reason)))

    def on_option_list_option_selected(self, event) -> None:
        # Enter on a waiting person admits them: the common case needs no thought
        if isinstance(event.option_list, WaitingRoom) and self.can_act:
            self.act(c.Admit(target=event.option.id))

    def action_open_session(self) -> None:
        self.act(c.Open())

    def action_close_session(self) -> None:
        self.push_screen(ConfirmScreen(close_question(self.room), "Close session"),
                         lambda yes: yes and self.act(c.Close()))

    # --- actions: timers, agenda, polls --------------------------------------------------------------

    def action_timer(self) -> None:
        s = self.room
        existing = {t.id for t in s.timers.values() if t.state in ("running", "paused")} if s else set()
        self.push_screen(TimerScreen(existing), lambda cmd: cmd is not None and self.act(cmd))

    def action_extend_timer(self) -> None:
        s = self.room
        live = [t for t in (s.timers.values() if s else []) if t.state in ("running", "paused")]
        if not live:
            self.notify("No timer is running", severity="information")
            return
        now = self.now()
        t = min(live, key=lambda t: remaining(t, now))
        self.act(c.TimerExtend(id=t.id, seconds=60))

    def action_agenda_next(self) -> None:
        self.act(c.AgendaNext())

    def action_poll(self) -> None:
        self.push_screen(PollScreen(), lambda cmds: cmds and self.act(*cmds))

    def action_toggle_poll(self) -> None:
        p = active_poll(self.room) if self.room else None
        if p is None:
            self.notify("No poll yet: press p to create one", severity="information")
        elif p.state == "draft":
            self.act(c.PollOpen(id=p.id))
        elif p.state == "open":
            self.act(c.PollClose(id=p.id))
        else:
            self.notify(f"Poll {p.id} is closed; press s to share its results", severity="information")

    def action_share_poll(self) -> None:
        p = active_poll(self.room) if self.room else None
        if p is not None:
            self.act(c.PollShare(id=p.id))

    # --- actions: breakouts, notes, flags, chat, help ---------------------------------------------------

    def action_breakouts(self) -> None:
        self.push_screen(BreakoutScreen())

    def action_listen_in(self, room: int | None = None) -> None:
        """Listens in to a breakout room (0: back to the main room).

        Without a room, the highlighted person's room is the likely one: a
        facilitator usually goes to listen where someone needs them."""
        if room is not None:
            self.act(c.ListenIn(room=room))
            return
        s = self.room
        m = s.members.get(self.selected() or "") if s is not None else None
        guess = str(m.breakout) if m is not None and m.breakout else "1"

        def done(answer: str | None) -> None:
            if answer:
                self.act(c.ListenIn(room=int(answer)))
        self.push_screen(PromptScreen("Listen in", "Breakout room number (0: back to the main room)", guess,
                                      restrict=r"\d{0,2}", ok="Listen"), done)

    def action_note(self) -> None:
        if pid := self._need_selected("write a note about"):
            self.push_screen(NoteScreen(pid, name_of(self.room, pid)), lambda cmd: cmd and self.act(cmd))

    def action_chat(self) -> None:
        def done(text: str | None) -> None:
            if not text:
                return
            to = "all"
            if text.startswith("@facilitators "):
                to, text = "facilitators", text[len("@facilitators "):]
            self.act(c.Chat(text=text, to=to))
        self.push_screen(PromptScreen("Message", "To everyone (start with @facilitators for staff only)",
                                      ok="Send"), done)

    def action_attendance(self) -> None:
        self.push_screen(AttendanceScreen())

    def attendance_exported(self, path: str) -> None:
        self.last_export = path
        self.notify(f"Attendance written to {path}", title="Exported", timeout=8)

    def action_invite(self) -> None:
        if self.target is not None and self.target.invite is not None:
            self.push_screen(InviteScreen(self.target.invite, self.target.staff_link))

    def action_toggle_log(self) -> None:
        self.query_one("#bottom").toggle_class("-log")

    # --- replay ------------------------------------------------------------------------------------------

    def _seek(self, index: int) -> None:
        r = self.replay
        before = r.index
        state = r.seek(index)
        self.mirror.state = state
        log_ = self.query_one(EventLog)
        if index < before or index - before > 200:
            log_.clear()
            for f in r.frames[max(0, r.index - 200):r.index]:
                log_.add(state, f)
            self._fresh = True
        else:
            for f in r.frames[before:r.index]:
                log_.add(state, f)
        what = describe(state, r.frames[r.index - 1].ev) if r.index else "before the first event"
        self.query_one(Timeline).show(r.index, r.count, r.at, r.start, what)
        self._draw()
        for w in (self.query_one(TimersPanel), self.query_one("#clock")):
            w.show()


class ReplayApp(ConsoleApp):
    """The console over a recorded session: the same panels, a timeline, no actions."""

    # arrows and Home/End would otherwise move the roster's cursor instead of the timeline
    BINDINGS = [Binding(a.key, a.action, a.label, show=a.footer,
                        priority=a.key in ("left", "right", "left_square_bracket", "right_square_bracket",
                                           "home", "end"))
                for a in REPLAY] + [Binding("f1", "help", "Help", show=False)]

    def action_step(self, n: int) -> None:
        if not isinstance(self.screen, Screen) or len(self.screen_stack) > 1:
            return
        self._seek(self.replay.index + n)

    def action_jump_minute(self, n: int) -> None:
        r = self.replay
        at = r.at or 0.0
        target = at + 60 * n
        # jumping back lands on the last event before the instant, forward on the first after
        self._seek(r.index_at(target) if n > 0 else max(0, r.index_at(target)))

    def action_jump_edge(self, end: int) -> None:
        self._seek(self.replay.count if end else 0)

    def action_jump_time(self) -> None:
        def done(text: str | None) -> None:
            secs = None
            if text:
                parts = text.strip().split(":")
                try:
                    nums = [int(p) for p in parts]
                    secs = sum(v * 60 ** i for i, v in enumerate(reversed(nums)))
                except ValueError:
                    secs = None
            if secs is None:
                if text:
                    self.notify("Give a time into the session as m:ss or h:mm:ss", severity="error")
                return
            self._seek(self.replay.index_at((self.replay.start or 0.0) + secs))
        self.push_screen(PromptScreen("Go to time", "Time into the session (m:ss or h:mm:ss)", "0:00"), done)
