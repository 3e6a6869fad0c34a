"""The participant's Textual app: the stages (agreement, location, waiting room, the room, the end)."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, ContentSwitcher, Footer, Input, Label, Static

from facilitator.participant.chat import ChatLog
from facilitator.participant.link import ENDINGS, ROLE_LABELS, ParticipantLink
from facilitator.participant.mirror import ViewMirror, clock, ordinal, timer_left
from facilitator.participant.polls import PollBox
from facilitator.participant.survey import SurveyCard
from protocol import commands as c
from protocol.frames import Ack, Error

class ParticipantApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "Group session"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]
    BINDINGS = [
        Binding("f2", "hand", "Raise/lower hand"),
        Binding("f3", "pass_turn", "Pass"),
        Binding("f4", "focus_chat", "Chat"),
        Binding("f5", "focus_help", "Need help"),
        Binding("ctrl+q", "quit", "Quit"),
    ]

    def __init__(self, url: str, token: str):
        super().__init__()
        self.link = ParticipantLink(url, token, on_change=self._changed, on_status=self._status)
        self.where = urlsplit(url).netloc or url        # host and port: a URL carries no token
        self.location_sent = False
        self.polls: dict[str, PollBox] = {}
        self.announced: set[str] = set()

    @property
    def mirror(self) -> ViewMirror | None:
        return self.link.mirror

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static("Group session", id="title", markup=False)
            yield Static("Connecting…", id="conn")
        with ContentSwitcher(initial="start", id="stages"):
            with Vertical(id="start", classes="stage"):
                yield Label("Connecting you to your group", classes="h")
                yield Static("One moment, please.", id="start-msg")
            with Vertical(id="agreement", classes="stage"):
                yield Label("Before you join: our group agreement", classes="h")
                yield Static("", markup=False, id="agreement-text")
                yield Checkbox("I have read the group agreement and I accept it.", id="agree-box")
                yield Button("Accept and continue", id="agree-btn", variant="primary")
            with Vertical(id="location", classes="stage"):
                yield Label("Where are you right now?", classes="h")
                yield Static("So that help can reach you in an emergency, tell us where you are for this "
                             "session. Only the facilitators see it.", classes="small")
                yield Input(placeholder="Your current location", id="loc-input", max_length=300)
                yield Button("Confirm my location", id="loc-btn", variant="primary")
            with Vertical(id="waiting", classes="stage"):
                yield Label("You are in the waiting room", classes="h")
                yield Static("Thank you. A facilitator will let you in shortly. Keep this open; "
                             "it moves on by itself.")
                yield Static("If you are in danger right now, call 988 (in the US) or your local "
                             "emergency number.", classes="small")
            with Horizontal(id="room"):
                with VerticalScroll(id="left"):
                    with Vertical(id="speaking", classes="card"):
                        yield Label("Speaking", classes="h3")
                        yield Static("Nobody is speaking right now.", id="speaker", markup=False)
                        yield Static("", markup=False, id="turn-clock")
                        with Horizontal(classes="buttons"):
                            yield Button("Raise my hand", id="hand-btn", variant="primary")
                            yield Button("Pass my turn", id="pass-btn")
                        yield Static("", markup=False, id="queue")
                    with Vertical(id="breakout", classes="card"):
                        yield Label("Breakout room", id="breakout-h", classes="h3")
                        yield Static("", markup=False, id="breakout-info")
                        yield Static("", markup=False, id="broadcasts")
                    with Vertical(id="polls-card", classes="card"):
                        yield Label("Questions for you", classes="h3")
                        yield Vertical(id="polls")
                    yield SurveyCard()
                    with Vertical(id="agenda-card", classes="card"):
                        yield Label("Today's plan and timers", classes="h3")
                        yield Static("", markup=False, id="agenda")
                        yield Static("", markup=False, id="timers")
                with VerticalScroll(id="right"):
                    with Vertical(id="chat-card", classes="card"):
                        yield Label("Chat", classes="h3")
                        yield ChatLog(id="chat-log")
                        yield Input(placeholder="Message to everyone", id="chat-input", max_length=2000)
                        yield Checkbox("Only to the facilitators", id="chat-private")
                    with Vertical(id="help-card", classes="card"):
                        yield Label("Need help?", classes="h3")
                        yield Static("This goes privately to the facilitators. Nobody else sees it. "
                                     "If you are in danger right now, call 988 (in the US) or your "
                                     "local emergency number.", classes="small")
                        yield Input(placeholder="What is going on? (optional)", id="help-input", max_length=2000)
                        yield Button("I need help", id="help-btn", variant="warning")
                        yield Static("", markup=False, id="help-status")
                    with Vertical(id="people-card", classes="card"):
                        yield Label("In the room", classes="h3")
                        yield Static("", markup=False, id="people")
                        yield Button("Leave the session", id="leave-btn")
            with Vertical(id="end", classes="stage"):
                yield Label("The session has ended", id="end-h", classes="h")
                yield Static("", markup=False, id="end-msg")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self.link.run(), name="link", exclusive=True)
        self.set_interval(1.0, self.tick)

    async def on_unmount(self) -> None:
        await self.link.close()

    # --- reacting to the room ----------------------------------------------------

    def _status(self, kind: str, detail: str) -> None:
        if not self.is_running:
            return          # shutting down: the screen is gone, frames may still arrive
        text = {"connecting": "Connecting…", "online": "● Connected",
                "reconnecting": "Reconnecting… you will not miss anything",
                "unreachable": "Offline: the server cannot be reached",
                "not-open": "Waiting for the session to open…"}.get(kind, kind)
        conn = self.query_one("#conn", Static)
        conn.update(text)
        conn.set_class(kind != "online", "down")
        if kind == "not-open" and self.mirror is None:
            self.query_one("#start-msg", Static).update(
                "The session has not started yet. This connects by itself as soon as it opens.")
        elif kind == "unreachable" and self.mirror is None:
            self.query_one("#start-msg", Static).update(
                f"The group's server at {self.where} cannot be reached: it may not be running yet, or "
                "your network may be down. This keeps trying by itself; Ctrl+Q quits.")

    def _changed(self, what: str) -> None:
        if not self.is_running:
            return
        m = self.mirror
        if m is not None and what == "turn_started" and m.view.speaker == m.me:
            share = " You can share, or pass (F3)." if m.view.go_around is not None else ""
            self.notify("It is your turn." + share, markup=False)
        elif m is not None and what == "breakouts_opened" and m.view.my_room:
            self.notify(f"You are now in breakout room {m.view.my_room}.", markup=False)
        elif m is not None and what == "breakouts_broadcast" and m.broadcasts:
            self.notify(f"From the facilitators: {m.broadcasts[-1].text}", markup=False)
        self.refresh_view()

    def wanted_stage(self) -> str:
        m = self.mirror
        if self.link.final:
            return "end"
        if m is None:
            return "start"
        v = m.view
        if v.phase == "closed" or v.status in ("denied", "removed", "left"):
            return "end"
        if v.status == "present":
            return "room"
        if v.agreement and not v.agreed:
            return "agreement"
        if not v.checked_in and not self.location_sent:
            return "location"
        return "waiting"

    def refresh_view(self) -> None:
        stage = self.wanted_stage()
        switcher = self.query_one("#stages", ContentSwitcher)
        m = self.mirror
        if m is not None:
            self.query_one("#title", Static).update(m.view.title or "Group session")
            self.query_one("#agreement-text", Static).update(m.view.agreement)
        if stage == "end":
            self._render_end()
        elif stage == "room":
            self._render_room()
        if switcher.current != stage:
            switcher.current = stage
            focus = {"agreement": "#agree-box", "location": "#loc-input", "room": "#hand-btn"}.get(stage)
            if focus:
                self.query_one(focus).focus()

    def _render_end(self) -> None:
        conn = self.query_one("#conn", Static)
        conn.update("Not connected")
        conn.set_class(True, "down")
        v = self.mirror.view if self.mirror else None
        if v is not None and v.phase == "closed":
            kind = "ended"
        else:
            kind = self.link.final or (v.status if v and v.status in ENDINGS else "ended")
        if kind == "closing":
            kind = "ended"
        title, msg = ENDINGS.get(kind, ("Disconnected", self.link.final_message))
        self.query_one("#end-h", Label).update(title)
        self.query_one("#end-msg", Static).update(msg)

    def _render_room(self) -> None:
        m = self.mirror
        v = m.view
        me = m.me
        if v.speaker == me:
            text = "It is your turn in the go-around." if v.go_around is not None else "You have the floor."
        elif v.speaker:
            text = f"{m.name(v.speaker)} is speaking."
        else:
            text = "Go-around: waiting for the next person." if v.go_around is not None else "Nobody is speaking right now."
        self.query_one("#speaker", Static).update(text)
        hand = self.query_one("#hand-btn", Button)
        up = me in v.queue
        hand.label = "Lower my hand" if up else "Raise my hand"
        hand.disabled = v.speaker == me
        self.query_one("#pass-btn", Button).display = v.go_around is not None and v.speaker == me
        pos = v.queue.index(me) if up else -1
        lines = []
        if pos == 0:
            lines.append("Your hand is up. You are next.")
        elif pos > 0:
            lines.append(f"Your hand is up. You are {ordinal(pos + 1)} in line.")
        if v.queue:
            lines.append("Hands raised: " + ", ".join(m.name(q) for q in v.queue))
        self.query_one("#queue", Static).update("\n".join(lines))

        in_room = v.breakouts == "open" and bool(v.my_room)
        self.query_one("#breakout").display = in_room
        if in_room:
            self.query_one("#breakout-h", Label).update(f"Breakout room {v.my_room}")
            others = [m.name(q) for q in v.room_members if q != me]
            self.query_one("#breakout-info", Static).update(
                f"You are with {', '.join(others)}." if others else "You are in this room on your own for now.")
            self.query_one("#broadcasts", Static).update(
                "\n".join(f"From the facilitators: {b.text}" for b in m.broadcasts))

        agenda = [("▶ " if i == v.agenda_index else "  ") + f"{a.title}" +
                  ("" if i == v.agenda_index else f"  ({round(a.minutes)} min)")
                  for i, a in enumerate(v.agenda)]
        self.query_one("#agenda", Static).update("\n".join(agenda))
        timers = [t for t in v.timers.values() if t.state != "cancelled"]
        self.query_one("#agenda-card").display = bool(v.agenda or timers)

        ppl = sorted(v.present, key=lambda p: p.role == "participant")
        self.query_one("#people", Static).update(", ".join(
            (f"{p.name} (you)" if p.id == me else p.name) + (f" ({ROLE_LABELS[p.role]})" if p.role in ROLE_LABELS else "")
            for p in ppl))

        self._render_polls()
        self.query_one(SurveyCard).show(v.survey)
        self._render_chat()
        h = v.my_help[-1] if v.my_help else None
        self.query_one("#help-status", Static).update(
            "" if h is None else "A facilitator has seen your request and will be with you."
            if h.acknowledged_by else "Your request was sent privately. A facilitator will reach out to you soon.")
        private = self.query_one("#chat-private", Checkbox).value
        self.query_one("#chat-input", Input).placeholder = (
            "Message to the facilitators only" if private else
            f"Message to breakout room {v.my_room}" if in_room else "Message to everyone")
        self.tick()

    def _render_polls(self) -> None:
        m = self.mirror
        box = self.query_one("#polls", Vertical)
        shown = [p for p in m.view.polls if p.state == "open" or p.results is not None]
        self.query_one("#polls-card").display = bool(shown)
        for p in shown:
            w = self.polls.get(p.id)
            if w is None:
                w = self.polls[p.id] = PollBox(p)
                box.mount(w, before=0) if box.children else box.mount(w)
                self.call_after_refresh(w.update_from, p, m.mine(p))
            else:
                w.update_from(p, m.mine(p))
        for pid in [k for k in self.polls if k not in {p.id for p in shown}]:
            self.polls.pop(pid).remove()

    def _render_chat(self) -> None:
        m = self.mirror
        lines = []
        for line in m.view.chat:
            who = "You" if line.by == m.me else line.name or "Someone"
            tag = (" (to the facilitators only)" if line.to == "facilitators" else
                   " (private, from a facilitator)" if line.to == m.me else
                   f" (breakout room {line.room})" if line.room else "")
            stamp = time.strftime("%H:%M", time.localtime(line.at))
            lines.append(((line.at, line.by, line.to, line.text), f"{stamp} {who}{tag}: {line.text}"))
        self.query_one("#chat-log", ChatLog).show(lines)

    def tick(self) -> None:
        m = self.mirror
        if m is None or not self.is_running or self.wanted_stage() != "room":
            return
        v = m.view
        now = self.link.now()
        turn = self.query_one("#turn-clock", Static)
        if v.speaker and v.turn_ends:
            turn.update(f"{'Your' if v.speaker == m.me else 'This'} turn: {clock(v.turn_ends - now)} left")
        else:
            turn.update("")
        if v.breakouts == "open" and v.breakouts_ends:
            left = v.breakouts_ends - now
            self.query_one("#breakout-h", Label).update(
                f"Breakout room {v.my_room} · back to the main room in {clock(left)}")
            self._milestone(f"breakouts-{v.breakouts_ends}", left, "Breakout rooms")
        lines = []
        if v.agenda_index is not None and v.agenda_started and v.agenda_index < len(v.agenda):
            a = v.agenda[v.agenda_index]
            left = v.agenda_started + a.minutes * 60 - now
            lines.append(f"{a.title}: {clock(left)} left" if left > 0 else f"{a.title}: running over")
        for t in v.timers.values():
            if t.state == "cancelled":
                continue
            left = timer_left(t, now)
            state = {"paused": " (paused)", "expired": " (time is up)"}.get(t.state, "")
            lines.append(f"{t.label or 'Timer'}: {clock(left)}{state}")
            if t.state == "running":
                self._milestone(f"timer-{t.id}-{t.ends_at}", left, t.label or "Timer")
        self.query_one("#timers", Static).update("\n".join(lines))

    def _milestone(self, key: str, left: float, label: str) -> None:
        for at, say in ((60, f"{label}: 1 minute left."), (0, f"{label}: time is up.")):
            k = f"{key}@{at}"
            if left <= at and k not in self.announced:
                self.announced.add(k)
                if left > at - 5:
                    self.notify(say, markup=False)

    # --- actions ---------------------------------------------------------------------

    async def _send(self, cmd: c.Command, ok_text: str = "") -> bool:
        r = await self.link.send(cmd)
        if isinstance(r, Error):
            self.notify(r.message[:1].upper() + r.message[1:] + ".", severity="warning", markup=False)
            return False
        if ok_text:
            self.notify(ok_text, markup=False)
        return True

    @on(Button.Pressed, "#agree-btn")
    async def accept(self) -> None:
        if not self.query_one("#agree-box", Checkbox).value:
            self.notify("Please tick the box to accept the agreement.", severity="warning", markup=False)
            self.query_one("#agree-box").focus()
            return
        if await self._send(c.AcceptAgreement()):
            self.mirror.view.agreed = True
            self.refresh_view()

    @on(Input.Submitted, "#loc-input")
    @on(Button.Pressed, "#loc-btn")
    async def share_location(self) -> None:
        loc = self.query_one("#loc-input", Input).value.strip()
        if not loc:
            self.query_one("#loc-input").focus()
            return
        if await self._send(c.ShareLocation(location=loc)):
            self.location_sent = True
            self.mirror.view.checked_in = True
            self.query_one("#loc-input", Input).value = ""
            self.refresh_view()

    @on(Button.Pressed, "#hand-btn")
    async def action_hand(self) -> None:
        m = self.mirror
        if m is None or self.wanted_stage() != "room":
            return
        await self._send(c.LowerHand() if m.me in m.view.queue else c.RaiseHand())

    @on(Button.Pressed, "#pass-btn")
    async def action_pass_turn(self) -> None:
        if self.wanted_stage() == "room":
            await self._send(c.Pass(), "You passed. Thank you.")

    def action_focus_chat(self) -> None:
        if self.wanted_stage() == "room":
            self.query_one("#chat-input").focus()

    def action_focus_help(self) -> None:
        if self.wanted_stage() == "room":
            self.query_one("#help-input").focus()

    @on(Input.Submitted, "#chat-input")
    async def chat(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        event.input.value = ""
        to = "facilitators" if self.query_one("#chat-private", Checkbox).value else "all"
        if not await self._send(c.Chat(text=text, to=to)):
            event.input.value = text

    @on(Checkbox.Changed, "#chat-private")
    def chat_audience(self) -> None:
        if self.mirror is not None and self.wanted_stage() == "room":
            self._render_room()

    @on(Input.Submitted, "#help-input")
    @on(Button.Pressed, "#help-btn")
    async def ask_help(self) -> None:
        inp = self.query_one("#help-input", Input)
        if await self._send(c.HelpRequest(text=inp.value.strip())):
            inp.value = ""
            self.notify("Your request for help was sent privately to the facilitators.", markup=False)
            self.refresh_view()

    @on(Button.Pressed, "#leave-btn")
    async def leave(self) -> None:
        await self._send(c.Leave())

    @on(Button.Pressed, ".poll .send")
    async def vote(self, event: Button.Pressed) -> None:
        box = next(a for a in event.button.ancestors if isinstance(a, PollBox))
        m = self.mirror
        p = m.poll(box.poll_id)
        if p is None:
            return
        got = box.read(p)
        status = box.query_one(".status", Static)
        if isinstance(got, str):
            status.update(got)
            return
        cmd, keys = got
        status.update("Sending…")
        r = await self.link.send(cmd)
        if isinstance(r, Ack) or (isinstance(r, Error) and r.code == "conflict" and p.anonymous):
            if p.anonymous:
                m.voted[p.id] = keys
            if p.kind in ("phq2", "gad2"):
                p.mine = keys
            box.update_from(p, m.mine(p))
        else:
            status.update(f"Not sent: {r.message}")
