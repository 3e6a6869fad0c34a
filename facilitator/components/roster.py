"""Everyone on the roster or who came in, with what a facilitator scans for.

Every mark is a symbol as well as a colour (colour-blind facilitators, plain
terminals). Rows are keyed by participant id so the cursor stays on the
same person while the room changes under it.
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from facilitator.mirror import late_minutes, participants, staff, talk_shares

STATUS = {
    "present": ("●", "green"),
    "dropped": ("↯", "yellow"),
    "waiting": ("◌", "cyan"),
    "left": ("←", "dim"),
    "absent": ("○", "dim"),
    "denied": ("✕", "dim"),
    "removed": ("✕", "red"),
}
BLOCKS = " ▏▎▍▌▋▊▉█"

# Cells carry their own leading space (the table's padding is 0): at 80 columns
# every column must fit beside the side panels.
COLUMNS = [("st", " "), ("name", " Name"), ("turn", " Q"), ("talk", " Talk"), ("room", " Rm"),
           ("late", " Late"), ("drops", " ↯"), ("flag", " ⚑"), ("loc", " In")]


def bar(share: float, width: int = 4) -> str:
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


class Roster(DataTable):
    """The roster table; the highlighted row is "the selected person" for actions."""

    def __init__(self, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kw)
        self._sig: tuple | None = None

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.border_title = "Roster"
        # talk time grows while someone speaks; shares shift for everyone
        self.set_interval(2.0, self._tick)

    @property
    def selected(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def _tick(self) -> None:
        s = self.app.room
        if s is not None and s.speaker is not None:
            self.show(force=True)

    def _cells(self, m, shares, s) -> dict[str, Text]:
        sym, style = STATUS.get(m.status, ("?", ""))
        if m.status == "dropped" and m.drop_overdue:
            sym, style = "⚠", "bold red"
        if m.status == "absent" and m.excused is not None:
            sym, style = "◎", "dim"
        turn = Text("")
        if s.speaker == m.id:
            turn = Text("▶", "bold green")
        elif m.id in s.queue:
            turn = Text(f"✋{s.queue.index(m.id) + 1}", "bold yellow")
        secs, share = shares.get(m.id, (0.0, 0.0))
        talk = Text(bar(share), "cyan")
        talk.append(f"{round(share * 100):3d}%", "dim" if share < 0.3 else "bold")
        room = ""
        if m.breakout is not None:
            room = f"R{m.breakout}"
        elif s.breakouts == "draft":
            room = next((f"({i})" for i, r in enumerate(s.rooms, 1) if m.id in r), "")
        late = late_minutes(s, m)
        flag = Text("")
        if m.flags:
            urgent = any(f.level == "urgent" for f in m.flags)
            flag = Text("⚑!" if urgent else "⚑", "bold red" if urgent else "yellow")
            if len(m.flags) > 1:
                flag.append(str(len(m.flags)), "dim")
        loc = Text("✓", "green") if m.location else Text("·", "dim")
        name = Text(m.name[:12], "bold" if m.status == "present" else ("dim" if m.status in ("absent", "left", "denied", "removed") else ""))
        cells = {
            "st": Text(sym, style), "name": name, "turn": turn, "talk": talk,
            "room": Text(room), "late": Text(f"+{late:.0f}m" if late >= 1 else "", "yellow"),
            "drops": Text(str(m.drops) if m.drops else "", "yellow"), "flag": flag, "loc": loc,
        }
        for v in cells.values():
            v.pad_left(1)
        return cells

    def show(self, force: bool = False) -> None:
        s = self.app.room
        if s is None:
            return
        now = self.app.now()
        people = participants(s)
        shares = talk_shares(s, now)
        sig = (s.seq, int(now) if s.speaker else 0)
        if sig == self._sig and not force:
            return
        self._sig = sig
        keys = [m.id for m in people]
        current = [r.key.value for r in self.ordered_rows]
        if keys != current:
            # the order changed (someone came in, left, or knocked): rebuild, keep the cursor
            keep = self.selected
            self.clear()
            for m in people:
                c = self._cells(m, shares, s)
                self.add_row(*(c[k] for k, _ in COLUMNS), key=m.id)
            if keep in keys:
                self.move_cursor(row=keys.index(keep), animate=False)
        else:
            for m in people:
                for k, v in self._cells(m, shares, s).items():
                    self.update_cell(m.id, k, v)
        here = sum(1 for m in people if m.status == "present")
        self.border_title = f"Roster {here}/{s.capacity}"
        st = [f"{m.name} {m.role[0].upper()}" + ("" if m.status == "present" else " ✕")
              for m in staff(s)]
        self.border_subtitle = " · ".join(st)
