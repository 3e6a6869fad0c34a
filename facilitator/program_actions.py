"""The console's program side: the program screen and form, and the group note when a session closes.

The program screens work on a local record (the embedded server's hub) and on a running
server alike (facilitator/program_source.py). The note needs the record itself: against a
remote server it is `session-server export --format note` there.
"""
from __future__ import annotations

import os


class ProgramActions:
    def offer_note(self) -> None:
        """A program's session just closed: its group note draft, to save where the user says."""
        t = self.target
        if t is None or t.hub is None or t.program is None or self.room is None:
            return      # a remote server's record is not here: `session-server export --format note` there
        self.run_worker(self._offer_note(t.hub, t.program[0], self.room.room), group="note-draft")

    async def _offer_note(self, hub, program_id: str, room: str) -> None:
        from facilitator.screens.note_draft import NoteDraftScreen, note_for
        from server.programs import on_hub
        await hub.flush()     # the close itself is in the record before the note is made from it
        try:
            text = await on_hub(hub, note_for, program_id, room)
        except LookupError as exc:
            self.notify(str(exc), title="No group note", severity="warning")
            return
        default = os.path.join(self.export_dir, f"note-{room}.md")

        def saved(path: str | None) -> None:
            if path:
                self.last_note = path
                self.notify(f"Group note draft written to {path}", title="Saved", timeout=8)
        self.push_screen(NoteDraftScreen(text, default), saved)

    def program_source(self):
        """The embedded server's hub when there is one, else the server over this console's link."""
        from facilitator.program_source import HubPrograms, WirePrograms, http_base
        t = self.target
        if t is not None and t.hub is not None:
            return HubPrograms(t.hub, f"console:{self.mirror.you_id or self.role}", t.http_url)
        if t is not None and self.link is not None:
            return WirePrograms(self.link, http_base(t.url))
        return None

    def action_program(self) -> None:
        source, t, room = self.program_source(), self.target, self.room
        if source is None:
            self.notify("Not connected yet.", severity="warning")
            return
        from facilitator.screens.program import ProgramScreen
        if t.program is not None:
            self.push_screen(ProgramScreen(source, t.program[0], t.program[1]))
        elif room is not None and room.program:
            self.push_screen(ProgramScreen(source, room.program, _date(room.date)))
        else:
            self.run_worker(self._pick_program(source), group="program-pick", exclusive=True)

    def action_program_new(self) -> None:
        source = self.program_source()
        if source is None:
            self.notify("Not connected yet.", severity="warning")
            return
        from facilitator.screens.program_form import ProgramForm
        me = f"{self.mirror.you_id} {self.mirror.you_name or self.mirror.you_id} facilitator"

        def made(pid: str | None) -> None:
            if pid:
                from facilitator.screens.program import ProgramScreen
                self.notify(f"Program {pid} recorded.", timeout=4)
                self.push_screen(ProgramScreen(source, pid))
        self.push_screen(ProgramForm(source, None, staff_hint=me if self.mirror.you_id else ""), made)

    async def _pick_program(self, source) -> None:
        """This room is no program's session: the programs the server shows this console."""
        from facilitator.program_pick import NEW, PickSession
        from server.programs.spec import ProgramError
        try:
            found = await source.list()
        except ProgramError as exc:
            self.notify(str(exc), title="Programs", severity="warning", timeout=8)
            return
        lines = [(f"{p.title or p.id}  ·  {p.id}  ·  {len(p.members)} member(s)", True) for p, _t in found]
        picked = await self.push_screen_wait(PickSession(lines + [(NEW, True)], title="Programs"))
        if picked is None:
            return
        if picked == len(found):
            self.action_program_new()
            return
        from facilitator.screens.program import ProgramScreen
        self.push_screen(ProgramScreen(source, found[picked][0].id))


def _date(text: str):
    import datetime as dt
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


class RemotePrograms:
    """A console connected to a running server by URL: tonight's sessions of its person's programs.

    The token names one room; tonight's session of a program is another. The program's own
    join links (`program_links`, the facilitator's alone) hold a token for each person on its
    staff, this console's among them: the console takes its own and reconnects to that room."""
    start_program: str | None = None      # `facilitator URL --program ID`
    _offered = False

    def offer_programs(self) -> None:
        t, room = self.target, self.room
        if self._offered or t is None or t.hub is not None or self.role != "facilitator":
            return
        self._offered = True
        if room is not None and room.program and self.start_program in (None, room.program):
            return          # already in a program's session
        self.run_worker(self._offer_tonight(), group="program-pick", exclusive=True)

    async def _offer_tonight(self) -> None:
        from facilitator.program_pick import PickSession, session_lines
        from server.programs.spec import ProgramError
        source = self.program_source()
        try:
            found = await source.list()
        except ProgramError as exc:
            self.notify(str(exc), title="Programs", severity="warning")
            return
        choices = [(p, s) for p, tonight in found for s in tonight
                   if self.start_program in (None, p.id)]
        if not choices:
            if self.start_program:
                self.notify(f"No session of {self.start_program} tonight that you are on the staff of.",
                            severity="warning", timeout=8)
            return
        if self.start_program and len(choices) == 1:
            picked = 0
        else:
            stay = (f"Stay in {self.room.room}", True) if self.room is not None else ("Stay here", True)
            picked = await self.push_screen_wait(PickSession(
                [(x, True) for x in session_lines(choices)] + [stay]))
            if picked is None or picked == len(choices):
                return
        p, s = choices[picked]
        try:
            links = await source.links(p, _date(s["date"]))
        except ProgramError as exc:
            self.notify(str(exc), title="Programs", severity="warning")
            return
        mine = next((x for x in links if x["id"] == self.mirror.you_id and "token" in x), None)
        if mine is None:
            self.notify(f"You are not on the staff of {p.id}.", severity="warning")
            return
        await self.switch_room(mine["token"])
        self.notify(f"{p.title or p.id}: room {s['room']}. Open the session from the palette when ready.",
                    timeout=10)

    async def switch_room(self, token: str) -> None:
        """Leaves this room's connection and joins another room on the same server, fresh."""
        from facilitator.app import Target
        old, self.link = self.link, None
        if old is not None:
            old.stopping = True
            await old.stop()
        self.target = Target(self.target.url, token)
        self.start_note = ""
        self.need_fresh = True          # another room: its own snapshot, no resume from this one's seq
        self.run_worker(self._connect(), name="link", group="link", exit_on_error=False)
