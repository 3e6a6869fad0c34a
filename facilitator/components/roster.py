"""Everyone on the roster or who came in, with what a facilitator scans for.

Every mark is a symbol as well as a colour (colour-blind facilitators, plain
terminals). Rows are keyed by participant id so the cursor stays on the
same person while the room changes under it.
"""
from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

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
ROSTER_SPACING = 0.12

# Cells carry their own leading space (the table's padding is 0): at 80 columns
# every column must fit beside the side panels, with a one-cell scrollbar when
# more people came than there are lines.
# Widths are fixed: measuring every cell on every change cost more than the rest
# of a redraw together.
COLUMNS = [("st", " ", 2), ("name", " Name", 10), ("turn", " Q", 4), ("talk", " Talk", 9), ("room", " Rm", 4),
           ("late", " Late", 5), ("drops", " ↯", 3), ("flag", " ⚑", 4), ("loc", " In", 2)]
# With room to spare (120 columns and up) the roster says more instead of leaving a gap.
WIDE_COLUMNS = COLUMNS + [("spoke", " Spoke", 7), ("here", " Here", 6), ("where", " Location", 30)]
WIDE_AT = 120


def bar(share: float, width: int = 4) -> str:
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


def voice_mark(s, m) -> Text:
    """After the name: talking now (from the media server's audio levels), in voice,
    or under a staff mute. A mute shows even out of voice: it holds when they come back."""
    if m.id in s.muted:
        return Text("⊘", "bold red")
    if m.id not in s.in_voice:
        return Text("")
    return Text("♪", "bold green") if m.talking_since is not None else Text("~", "dim")


class Roster(DataTable):
    """The roster table; the highlighted row is "the selected person" for actions."""

    def __init__(self, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kw)
        self._sig: tuple | None = None
        self.wide = False
        self.columns_now = COLUMNS
        self._room, self._now = None, 0.0      # what the drawing code last gave

    def on_mount(self) -> None:
        self._columns()
        self.border_title = "Roster"

    def _columns(self) -> None:
        self.wide = self.app.size.width >= WIDE_AT
        self.columns_now = WIDE_COLUMNS if self.wide else COLUMNS
        self.clear(columns=True)
        self._cells_shown: dict[str, dict[str, Text]] = {}
        for key, label, width in self.columns_now:
            self.add_column(label, key=key, width=width)

    def on_resize(self) -> None:
        if (self.app.size.width >= WIDE_AT) != self.wide:
            keep = self.selected
            self._columns()
            self.show(self._room, self._now, force=True)
            if keep is not None and keep in [r.key.value for r in self.ordered_rows]:
                self.move_cursor(row=[r.key.value for r in self.ordered_rows].index(keep), animate=False)

    @property
    def selected(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def _title(self) -> None:
        """At 80 columns the Spoke, Here and Location columns give way: the highlighted
        person's values stand in the title instead (v shows everything)."""
        title = getattr(self, "_count", "Roster")
        s, now = self._room, self._now
        m = s.members.get(self.selected or "") if s is not None and not self.wide else None
        if m is not None and m.status != "absent":
            from facilitator.mirror import attended, fmt_secs, talk_shares
            spoke = talk_shares(s, now).get(m.id, (0.0, 0.0))[0]
            # compact, as the columns would read: talk time, minutes here, location
            bits = [fmt_secs(spoke)]
            if m.admitted:
                bits.append(f"{attended(m, now) / 60:.0f}m")
            if m.location:
                loc = m.location
                bits.append(loc if len(loc) <= 10 else loc[:9] + "…")    # cut, and says so
            title += f" · {m.name[:9]} " + " ".join(bits)
        if self.border_title != title:      # a tick in a quiet room changes nothing: no repaint
            self.border_title = title

    def on_data_table_row_highlighted(self, event) -> None:
        self._title()

    def tick(self, s, now: float) -> None:
        """Every other second of the app's clock: talk time grows while someone speaks; shares shift for everyone."""
        if s is not None and (s.speaker is not None or self.wide):
            self.show(s, now)
        else:
            # the title's minutes here still count in a quiet room
            self._room, self._now = s, now
            self._title()

    def _cells(self, m, shares, s, now: float) -> dict[str, Text]:
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
        flags = [f for f in m.flags if f.cleared_at is None]   # resolved flags stay in the record only
        if flags:
            urgent = any(f.level == "urgent" for f in flags)
            flag = Text("⚑!" if urgent else "⚑", "bold red" if urgent else "yellow")
            if len(flags) > 1:
                flag.append(str(len(flags)), "dim")
        loc = Text("✓", "green") if m.location else Text("·", "dim")
        # the voice mark takes the name's last cells: the column keeps its width (80 columns)
        mark = voice_mark(s, m)
        name = Text(m.name[:7] + " " if mark.plain else m.name[:9],
                    "bold" if m.status == "present" else ("dim" if m.status in ("absent", "left", "denied", "removed") else ""))
        name.append_text(mark)
        cells = {
            "st": Text(sym, style), "name": name, "turn": turn, "talk": talk,
            "room": Text(room), "late": Text(f"+{late:.0f}m" if late >= 1 else "", "yellow"),
            "drops": Text(str(m.drops) if m.drops else "", "yellow"), "flag": flag, "loc": loc,
        }
        if self.wide:
            from facilitator.mirror import attended, fmt_secs
            cells["spoke"] = Text(fmt_secs(secs) if secs else "", "dim")
            here = attended(m, now)
            cells["here"] = Text(f"{here / 60:.0f}m" if m.admitted else "", "dim")
            cells["where"] = Text((m.location or "")[:28], "dim")
        for v in cells.values():
            v.pad_left(1)
        return cells

    def _update_cells(self, changed: list[tuple[str, str, Text]]) -> None:
        """Changes cells and re-renders only their rows.

        DataTable's own `update_cell` bumps one counter that every render cache
        is keyed by, so one raised hand re-renders all ~180 cells; at 100 events
        a second that cost is what a key press waits behind. Here only the
        changed cells' entries leave the caches and the rest stay warm. It
        reaches into DataTable's caches, so any surprise falls back to the
        plain path (the result on screen is the same either way)."""
        try:
            rows = {RowKey(rid) for rid, _, _ in changed}
            cells = {(RowKey(rid), ColumnKey(col)) for rid, col, _ in changed}
            indexes = {self._row_locations.get(r) for r in rows}
            for rid, col, value in changed:
                self._data[RowKey(rid)][ColumnKey(col)] = value
            for cache, hit in ((self._cell_render_cache, lambda k: (k[0], k[1]) in cells),
                               (self._row_render_cache, lambda k: k[0] in rows),
                               (self._row_renderable_cache, lambda k: k[1] in indexes)):
                for key in [k for k in cache.keys() if hit(k)]:
                    cache.discard(key)
            self._line_cache.clear()
            self.refresh()
        except (AttributeError, KeyError, TypeError, IndexError):
            for rid, col, value in changed:
                self.update_cell(rid, col, value)

    def request(self, s, now: float) -> None:
        """Redraws soon, at most ~8 times a second.

        Every cell change makes the table render all its cells again; during a
        burst of hands going up and down, redrawing per event would starve the
        panels that answer a key press. A person scanning the roster cannot
        read faster than this anyway.
        """
        self._room, self._now = s, now
        if getattr(self, "_queued", False):
            return
        wait = ROSTER_SPACING - (time.monotonic() - getattr(self, "_last", 0.0))
        if wait <= 0:
            self._last = time.monotonic()
            self.show(s, now)
            return
        self._queued = True
        self.set_timer(wait, self._deferred)

    def _deferred(self) -> None:
        self._queued = False
        self._last = time.monotonic()
        # the latest room the drawing code gave while this redraw waited
        self.show(self._room, self._now)

    def show(self, s, now: float, force: bool = False) -> None:
        self._room, self._now = s, now
        if s is None:
            return
        people = participants(s)
        shares = talk_shares(s, now)
        sig = (s.seq, int(now) // 2 if s.speaker or self.wide else 0)
        if sig == self._sig and not force:
            return
        self._sig = sig
        keys = [m.id for m in people]
        current = [r.key.value for r in self.ordered_rows]
        if keys != current:
            # the order changed (someone came in, left, or knocked): rebuild, keep the cursor
            keep = self.selected
            self.clear()
            self._cells_shown = {}
            for m in people:
                c = self._cells(m, shares, s, now)
                self.add_row(*(c[k] for k, _, _ in self.columns_now), key=m.id)
                self._cells_shown[m.id] = c
            if keep in keys:
                self.move_cursor(row=keys.index(keep), animate=False)
        else:
            changed: list[tuple[str, str, Text]] = []
            for m in people:
                old = self._cells_shown.setdefault(m.id, {})
                for k, v in self._cells(m, shares, s, now).items():
                    if old.get(k) != v:
                        old[k] = v
                        changed.append((m.id, k, v))
            if changed:
                self._update_cells(changed)
        here = sum(1 for m in people if m.status == "present")
        self._count = f"Roster {here}/{s.capacity}"
        self._title()
        # staff on duty now; a co-facilitator who dropped shows as such, one listening in by room
        st = [f"{m.name} {m.role[0].upper()}" + (" ↯" if m.status == "dropped" else "")
              + (f" in R{m.listening}" if m.listening else "")
              for m in staff(s) if m.status in ("present", "dropped")]
        self.border_subtitle = "staff: " + " · ".join(st) if st else ""
