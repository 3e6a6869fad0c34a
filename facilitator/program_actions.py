"""The console's program side: the program screen, and the group note when a session closes.

Only a local console has the record (its embedded server's hub holds it); against a
remote server these say so, and the note is `session-server export --format note` there.
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

    def action_program(self) -> None:
        t = self.target
        if t is None or t.hub is None or t.program is None:
            self.notify("No program here: start the console with --program ID (or --db F and pick).",
                        severity="warning", timeout=6)
            return
        from facilitator.screens.program import ProgramScreen
        self.push_screen(ProgramScreen(t.hub, t.program[0], t.program[1], t.http_url))

