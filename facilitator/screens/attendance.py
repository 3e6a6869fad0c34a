"""Attendance as the record will show it, and its export to CSV.

Rows come from `server.attendance`, which reads the same folded state the
server keeps, so the export matches the clinical record line for line.
"""
from __future__ import annotations

import csv
import os
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label

from facilitator.screens import FollowsRoom
from facilitator.screens.prompt import PromptScreen
from server.attendance import CSV_HEADER, attendance_rows, csv_lines


def write_csv(path: str, header: list[str], lines: list[list[str]]) -> None:
    # the export names people: keep it private to the user, like the record
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(lines)


class AttendanceScreen(FollowsRoom, ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close"), Binding("e", "export", "Export CSV")]

    def __init__(self, state, now: float):
        super().__init__()
        self.state, self.at = state, now     # the room as last drawn, and when

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog full") as v:
            v.border_title = "Attendance"
            yield DataTable(id="rows", cursor_type="row")
            yield Label("", id="summary", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Export CSV (e)", variant="primary", id="export")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        table = self.query_one("#rows", DataTable)
        table.add_columns("Name", "Status", "Minutes", "Late", "Waited", "Left early", "Drops", "Reason")
        self.show()

    def show(self) -> None:
        s = self.state
        if s is None:
            return
        now = None if s.phase == "closed" else self.at
        rows = attendance_rows(s, now)
        table = self.query_one("#rows", DataTable)
        table.clear()
        for r in rows:
            # a removal shows when it happened, in session time, beside the status
            status = r.status
            if r.removed_at is not None and s.opened_at is not None:
                status = f"removed {int(max(0.0, r.removed_at - s.opened_at) // 60)}m"
            table.add_row(r.name, status, f"{r.minutes_present:.1f}", f"{r.late_minutes:.0f}",
                          f"{r.waiting_minutes:.0f}", f"{r.left_early_minutes:.0f}", str(r.drops), r.reason)
        came = sum(1 for r in rows if r.status == "attended")
        self.query_one("#summary", Label).update(
            f"{came} attended · {sum(1 for r in rows if r.status == 'absent')} absent · "
            f"{sum(1 for r in rows if r.status == 'excused')} excused"
            + (f" · {removed} removed" if (removed := sum(1 for r in rows if r.status == "removed")) else ""))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export":
            self.action_export()
        else:
            self.dismiss(None)

    def action_export(self) -> None:
        s = self.state
        if s is None:
            return
        # to this instant, not the last redraw's: a quiet room may not have redrawn for minutes
        rows = attendance_rows(s, None if s.phase == "closed" else self.app.now())
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in s.room)[:40]
        default = os.path.join(self.app.export_dir, f"attendance-{safe}-{time.strftime('%Y%m%d-%H%M')}.csv")
        lines = csv_lines(rows)

        # The CSV names people: it goes only where the user says, never silently into
        # whatever directory the console was started from.
        def chosen(path: str | None) -> None:
            if path:
                self._export(os.path.abspath(os.path.expanduser(path)), lines)
        self.app.push_screen(PromptScreen("Export attendance", "Save the CSV to", value=default,
                                          ok="Save"), chosen)

    @work(thread=True, exclusive=True)
    def _export(self, path: str, lines: list[list[str]]) -> None:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            write_csv(path, CSV_HEADER, lines)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"Could not write {path}: {exc.strerror}",
                                      severity="error")
            return
        self.app.call_from_thread(self.app.attendance_exported, path)

    def action_close(self) -> None:
        self.dismiss(None)
