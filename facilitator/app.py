"""The facilitator console: one screen to run a live group from the keyboard.

The app mirrors the room (the welcome's snapshot plus every event, folded
with the server's `evolve`), draws its panels from that mirror, and turns
keys into commands. The server decides everything: a refused command comes
back as a notification with the server's own words, and what a command
changed comes back as events like anyone else's.

The app is put together from its seams, one module each:
- facilitator/connection.py: the link, the welcome, events, health, sending;
- facilitator/drawing.py: one redraw per burst, the countdowns' clock, `RoomChanged`;
- facilitator/console_keys.py: which keys show and work, the palette;
- facilitator/console_actions.py: each key carried out, from facilitator/decisions.py;
- facilitator/replay_console.py: `ReplayApp`, the console over a recorded session.
"""
from __future__ import annotations

import os
import time
from typing import Awaitable, Callable

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from facilitator.actions import ACTIONS, role_label
from facilitator.components.eventlog import EventLog
from facilitator.components.feed import Feed
from facilitator.components.header import SessionHeader
from facilitator.components.poll import PollPanel
from facilitator.components.queue import SpeakingQueue
from facilitator.components.roster import Roster
from facilitator.components.timers import TimersPanel
from facilitator.components.waiting import WaitingRoom
from facilitator.connection import Connection, Target
from facilitator.console_actions import RoomActions
from facilitator.console_keys import ConsoleFooter, KeyGuard, Keys, bindings
from facilitator.drawing import Drawing
from facilitator.link import ConsoleLink
from facilitator.mirror import RoomMirror
from facilitator.program_actions import ProgramActions, RemotePrograms
from facilitator.replay import Replay
from protocol.state import RoomState

HERE = os.path.dirname(__file__)


def default_export_dir() -> str:
    from platformdirs import user_data_dir
    return os.path.join(user_data_dir("group-console", appauthor=False), "exports")


class ConsoleApp(KeyGuard, Keys, Connection, Drawing, RoomActions, ProgramActions, RemotePrograms, App):
    TITLE = "Group console"
    CSS_PATH = [os.path.join(HERE, p) for p in (
        "app.tcss", "screens/modals.tcss", "components/header.tcss", "components/roster.tcss",
        "components/waiting.tcss", "components/queue.tcss", "components/poll.tcss",
        "components/timers.tcss", "components/feed.tcss", "components/eventlog.tcss",
        "components/timeline.tcss")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = bindings(ACTIONS)

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
        self.mirror = RoomMirror()
        self.link: ConsoleLink | None = None
        self.offset = 0.0              # server clock minus ours, from the welcome
        self.conn = "replay" if replay is not None else "connecting"
        self.need_fresh = False        # a seq gap: ask for a snapshot instead of a resume
        self._fresh = False
        self.drawn_seq = 0             # the seq the panels last showed (tests and the benchmark wait on it)
        if replay is not None:
            self.mirror.state = replay.state
            self.mirror.role = "replay"

    # --- what the drawing code gives the panels --------------------------------------------

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
        return f"{self.mirror.you_name or self.mirror.you_id} · {role_label(self.role)}"

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
        yield from self.compose_timeline()
        yield Static("", id="offline-note")
        yield ConsoleFooter(compact=True)

    def compose_timeline(self) -> ComposeResult:
        return iter(())        # a replay's timeline (replay_console.py); a live room has none

    def on_mount(self) -> None:
        if self.own_process:
            from server import pauses
            self._pauses = pauses.install()
        self.query_one(SessionHeader).connection(self.conn)
        self.query_one(Roster).focus()
        # the footer composes itself on a bindings change; a replay has no welcome to cause one
        self.call_after_refresh(self.refresh_bindings)
        self.start_clock()
        self.start()
        self._draw()

    def start(self) -> None:
        """A live console connects (or first starts its local server); a replay seeks instead."""
        self.run_worker(self._connect(), name="link", group="link", exit_on_error=False)


def __getattr__(name: str):
    # `ReplayApp` is a `ConsoleApp`: its module imports this one, so it is found here on first use
    if name == "ReplayApp":
        from facilitator.replay_console import ReplayApp
        return ReplayApp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
