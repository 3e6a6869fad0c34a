"""Plan breakout rooms, adjust them by hand, open them, and bring everyone back.

Rooms are columns. Arrow keys pick a person, `[` and `]` (or shift+arrows)
move them to the room on the left or right, `+` into a new room. Once the
rooms are open, `l` listens in to the highlighted room (again: back to the
main room); the server tells the other staff, never the participants. The server
plans and refuses plans that break a rule (`conflict`, shown here); moves by
hand are not refused, so the rules they would break are shown, and opening
such a draft asks first, naming each rule: the server opens it only with
`override`, which the record keeps. `t` and `x` set (or drop) a keep-together
or keep-apart rule between the highlighted person and another.
"""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from facilitator.screens import FollowsRoom, steady_cursors
from facilitator.screens.prompt import ConfirmScreen
from facilitator.screens.rules import RulePicker
from facilitator.screens.broadcast_keys import BroadcastKeys
from facilitator.mirror import fmt_secs, name_of, plan_violations, present
from protocol.commands import (
    BreakoutsBroadcast, BreakoutsClose, BreakoutsMove, BreakoutsOpen, BreakoutsPlan, ListenIn,
)
from protocol.frames import Error


class RoomColumn(OptionList):
    def __init__(self, number: int):
        super().__init__(id=f"room-{number}", classes="room")
        self.number = number
        self.border_title = f"Room {number}"

    @property
    def selected(self) -> str | None:
        if self.highlighted is None or self.option_count == 0:
            return None
        return self.get_option_at_index(self.highlighted).id


class BreakoutScreen(FollowsRoom, BroadcastKeys):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("left", "column(-1)", "Room ←", show=False),
        Binding("right", "column(1)", "Room →", show=False),
        Binding("left_square_bracket,shift+left", "move(-1)", "Move ←"),
        Binding("right_square_bracket,shift+right", "move(1)", "Move →"),
        Binding("plus", "move_new", "New room"),
        Binding("ctrl+o", "open", "Open"),
        Binding("l", "listen", "Listen in"),
        Binding("t", "rule('together')", "Keep together with…"),
        Binding("x", "rule('apart')", "Keep apart from…"),
    ]

    HINT_PLAN = ("←/→ room · ↑/↓ person · [ ] move · + new room · ctrl+o open · Esc back    "
                 "∞ keep together · ≠ keep apart · ↯ dropped")
    HINT_OPEN = ("←/→ room · ↑/↓ person · [ ] move · l listen in (again: back to the main room) · Esc back    "
                 "∞ together · ≠ apart · ↯ dropped")

    def __init__(self, state, you: str | None):
        super().__init__()
        self.state, self.you = state, you    # the room as last drawn; who this console is
        self.follow: tuple[str, int] | None = None   # keep the cursor on whoever was moved
        self.server_says = ""
        self._sig = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = "Breakouts"
            with Horizontal(id="plan-row", classes="row"):
                yield Label("Rooms")
                yield Input("", restrict=r"\d*", id="rooms", classes="num")
                yield Label("or size")
                yield Input("", restrict=r"\d*", id="size", classes="num")
                yield Button("Plan", id="plan", compact=True)
                yield Label("Min")
                yield Input("10", restrict=r"[\d.]*", id="minutes", classes="num")
                yield Button("Open", variant="success", id="open", compact=True)
            with Horizontal(id="open-row", classes="row"):
                yield Label("", id="ends")
                yield Input(placeholder="Message to every room", id="broadcast")
                yield Button("Close rooms", variant="error", id="close-rooms", compact=True)
            yield Horizontal(id="columns")
            yield Label("", id="problems")
            yield Label(self.HINT_PLAN, id="hint", classes="hint")

    def on_mount(self) -> None:
        steady_cursors(self)
        s = self.state
        n = len(present(s)) if s is not None else 0
        self.query_one("#rooms", Input).value = str(max(1, min(5, round(n / 3)))) if n else "2"
        self.set_interval(1.0, self._tick)
        self.show()

    # --- showing the plan ---------------------------------------------------------

    def show(self) -> None:
        s = self.state
        if s is None:
            return
        self.query_one("#plan-row").display = s.breakouts != "open"
        self.query_one("#open-row").display = s.breakouts == "open"
        sig = (s.breakouts, tuple(tuple(r) for r in s.rooms),
               tuple((m.id, m.status, tuple(m.together), tuple(m.apart)) for m in s.members.values()),
               self._listening())
        if sig != self._sig:
            self._sig = sig
            self.call_later(self._rebuild)
        self._tick()
        self.query_one("#hint", Label).update(self.HINT_OPEN if s.breakouts == "open" else self.HINT_PLAN)
        problems = Text()
        if self.server_says:
            problems.append(f"✕ {self.server_says}\n", "bold red")
        for v in plan_violations(s) if s.breakouts != "none" else []:
            problems.append(f"⚠ {v}\n", "yellow")
        if s.breakouts == "none" and not self.server_says:
            problems.append("No plan yet: choose a number of rooms (or a size) and press Plan.", "dim")
        self.query_one("#problems", Label).update(problems)

    def _listening(self) -> int | None:
        """The room this console's own person listens in to, if any."""
        s = self.state
        me = s.members.get(self.you) if s is not None else None
        return me.listening if me is not None else None

    def _tick(self) -> None:
        s = self.state
        if s is not None and s.breakouts == "open" and s.breakouts_ends is not None:
            where = self._listening()
            self.query_one("#ends", Label).update(
                f"Rooms open · back in {fmt_secs(s.breakouts_ends - self.app.now())}"
                + (f" · you in R{where}" if where else ""))

    async def _rebuild(self) -> None:
        s = self.state
        box = self.query_one("#columns", Horizontal)
        focused_room = self.focused.number if isinstance(self.focused, RoomColumn) else None
        focused_pid = self.focused.selected if isinstance(self.focused, RoomColumn) else None
        await box.remove_children()
        cols = []
        listening = self._listening()
        for i, room in enumerate(s.rooms, start=1):
            col = RoomColumn(i)
            if listening == i:
                col.border_title = f"Room {i} ◉ you"
            for pid in room:
                m = s.members.get(pid)
                t = Text(name_of(s, pid))
                if m is not None and m.status != "present":
                    t.append(" ↯", "yellow")
                if m is not None and m.together:
                    t.append(" ∞", "cyan")
                if m is not None and m.apart:
                    t.append(" ≠", "magenta")
                col.add_option(Option(t, id=pid))
            col.border_subtitle = f"{len(room)}"
            cols.append(col)
        await box.mount_all(cols)
        target_room, target_pid = (self.follow[1], self.follow[0]) if self.follow else (focused_room, focused_pid)
        self.follow = None
        if cols:
            idx = min(max((target_room or 1) - 1, 0), len(cols) - 1)
            col = cols[idx]
            ids = [o.id for o in col.options]
            if ids:
                # a highlighted person from the start: the first arrow key moves down, not onto row one
                col.highlighted = ids.index(target_pid) if target_pid in ids else 0
            col.focus()

    # --- keys -------------------------------------------------------------------------

    def _columns(self) -> list[RoomColumn]:
        return list(self.query(RoomColumn))

    def action_column(self, step: int) -> None:
        cols = self._columns()
        if not cols:
            return
        cur = self.focused.number - 1 if isinstance(self.focused, RoomColumn) else -1
        cols[(cur + step) % len(cols)].focus()

    def action_move(self, step: int) -> None:
        col = self.focused if isinstance(self.focused, RoomColumn) else None
        if col is None or col.selected is None:
            return
        dest = col.number + step
        if dest < 1 or dest > len(self._columns()):
            return
        self._send_move(col.selected, dest)

    def action_move_new(self) -> None:
        col = self.focused if isinstance(self.focused, RoomColumn) else None
        if col is not None and col.selected is not None:
            self._send_move(col.selected, len(self._columns()) + 1)

    def action_listen(self) -> None:
        col = self.focused if isinstance(self.focused, RoomColumn) else None
        if col is None:
            return
        # the server says whether the rooms are open; its answer shows here and as a notification
        self._send(ListenIn(room=0 if self._listening() == col.number else col.number))

    def action_rule(self, kind: str) -> None:
        """A keep-together or keep-apart rule between the highlighted person and another."""
        col = self.focused if isinstance(self.focused, RoomColumn) else None
        s = self.state
        if col is None or col.selected is None or s is None:
            return
        self.app.push_screen(RulePicker(s, col.selected, kind), lambda cmd: cmd is not None and self._send(cmd))

    def _send_move(self, pid: str, room: int) -> None:
        self.follow = (pid, room)
        self._send(BreakoutsMove(target=pid, room=room))

    def action_open(self) -> None:
        try:
            minutes = float(self.query_one("#minutes", Input).value or "10")
        except ValueError:
            minutes = 10.0
        s = self.state
        broken = plan_violations(s) if s is not None and s.breakouts == "draft" else []
        if not broken:
            self._send(BreakoutsOpen(minutes=minutes))
            return
        # the server refuses a draft that breaks a rule unless told it is meant:
        # ask here, naming each rule, and only a yes sends the override
        question = "This plan breaks a rule:\n" + "\n".join(f"  {v}" for v in broken) + "\nOpen the rooms anyway?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._send(BreakoutsOpen(minutes=minutes, override=True))
        self.app.push_screen(ConfirmScreen(question, "Open anyway"), answered)

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id
        if bid == "plan":
            rooms = self.query_one("#rooms", Input).value
            size = self.query_one("#size", Input).value
            cmd = BreakoutsPlan(size=int(size)) if size else BreakoutsPlan(rooms=int(rooms or 2))
            self._send(cmd)
        elif bid == "open":
            self.action_open()
        elif bid == "close-rooms":
            self._send(BreakoutsClose())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "broadcast" and event.value.strip():
            self._send(BreakoutsBroadcast(text=event.value.strip()))
            event.input.value = ""
        elif event.input.id in ("rooms", "size"):
            self.query_one("#plan", Button).press()

    @work(group="breakouts")
    async def _send(self, cmd) -> None:
        result = await self.app.send(cmd)
        self.server_says = result.message if isinstance(result, Error) else ""
        if self.is_attached:
            self.show()
