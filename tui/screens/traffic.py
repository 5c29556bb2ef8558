"""Sparkplug traffic (7): live decoded messages, on the embedded broker and (through the daemon's relay)
sent to and received from the upstream servers; filter; space pauses.

Only the newest rows are kept in the table (``_ROWS``); payloads are decoded when a row is added,
at most ``_ROWS`` per repaint, so a burst of 1,000 messages/s costs a bounded amount per repaint.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.screens import tables
from tui.screens.base import GatewayScreen
from tui.viewmodel.model import GatewayModel
from tui.viewmodel.tail import last, newest
from tui.viewmodel.traffic import TRAFFIC_COLUMNS, traffic_cells, traffic_matches
from tui.viewmodel.traffic_feed import TrafficRecord
from tui.widgets.cells import to_text

_ROWS = 300


class TrafficScreen(GatewayScreen):
    SCREEN_TITLE = "7 Sparkplug traffic"
    HAS_FILTER = True
    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "pause", "Pause/resume", id="pause")]
    DEFAULT_CSS = """
    TrafficScreen DataTable { height: 1fr; }
    TrafficScreen #traffic-state { height: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self._seen = 0
        self._next_key = 0
        self._row_keys: list[str] = []

    def compose_body(self) -> Iterable[Widget]:
        yield Static("", id="traffic-state", markup=False)
        table: DataTable[object] = DataTable(id="traffic")
        tables.setup(table, TRAFFIC_COLUMNS)
        yield table

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.repaint(set(), set(), full=not self.paused)

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        m = self.model
        table = self.query_one("#traffic", DataTable)
        waiting = m.traffic_total - self._seen
        state = f"PAUSED: {waiting:,} new messages not shown (space resumes)" if self.paused else "live"
        seen = f"{m.traffic_total:,} Sparkplug messages seen{_relay_note(m)}{_birth_note(m)}"
        self.query_one("#traffic-state", Static).update(f"{state}; {seen}; filter with /")
        if self.paused:
            return
        if full:
            table.clear()
            self._row_keys.clear()
            records = [r for r in last(m.traffic, len(m.traffic)) if traffic_matches(r, self.row_filter)]
            self._add(table, records[-_ROWS:])
        elif "traffic" in dirty:
            fresh = newest(m.traffic, m.traffic_total, self._seen, _ROWS * 4)
            self._add(table, [r for r in fresh if traffic_matches(r, self.row_filter)][-_ROWS:])
        self._seen = m.traffic_total

    def _add(self, table: DataTable[object], records: list[TrafficRecord]) -> None:
        follow = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        for record in records:
            key = f"m{self._next_key}"
            self._next_key += 1
            table.add_row(*(to_text(c) for c in traffic_cells(record)), key=key)
            self._row_keys.append(key)
        excess = len(self._row_keys) - _ROWS
        if excess > 0:
            for key in self._row_keys[:excess]:
                table.remove_row(key)
            del self._row_keys[:excess]
        if follow and table.row_count:
            table.move_cursor(row=table.row_count - 1)


def _relay_note(model: GatewayModel) -> str:
    """What the relay of upstream traffic lost to its rate limit, when it lost anything."""
    dropped = model.uplink.message.relay_dropped if model.uplink is not None else 0
    return f" ({dropped:,} upstream copies over the relay's rate limit not shown)" if dropped else ""


def _birth_note(model: GatewayModel) -> str:
    """Until a birth is seen, DATA metrics can only show their alias and raw wire value."""
    if model.traffic_total and not model.traffic_feed.births_seen:
        return "; no birth seen yet, metrics by alias (R on the Uplink screen asks for a rebirth)"
    return ""
