"""Events and logs (8): live tail of events and of the daemon log, level filter (l), text filter (/)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import RichLog, Static

from tui._contract import Severity, c
from tui.screens.base import GatewayScreen
from tui.viewmodel.badges import Cell, at_least
from tui.viewmodel.rows import event_cells, event_matches, log_line_text
from tui.viewmodel.tail import last, newest

_SHOWN = 500
_FLOORS = (Severity.DEBUG, Severity.INFO, Severity.WARNING, Severity.ERROR)


def _line(cells: Sequence[Cell]) -> Text:
    out = Text(no_wrap=False)
    for i, cell in enumerate(cells):
        if i:
            out.append(" ")
        out.append(cell.text if i != 1 else f"{cell.text:<8}", style=cell.style or "")
    return out


class EventsScreen(GatewayScreen):
    SCREEN_TITLE = "8 Events and logs"
    HAS_FILTER = True
    BINDINGS: ClassVar[list[BindingType]] = [Binding("l", "level", "Level", id="level")]
    DEFAULT_CSS = """
    EventsScreen RichLog { height: 1fr; border: round $primary-darken-2; }
    EventsScreen #level-state { height: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.floor = Severity.INFO
        self._events_seen = 0
        self._events_version = -1
        self._logs_seen = 0
        self._backfilled = False

    def compose_body(self) -> Iterable[Widget]:
        yield Static("", id="level-state", markup=False)
        events = RichLog(id="events", max_lines=2000, wrap=True)
        events.border_title = "events"
        yield events
        logs = RichLog(id="logs", max_lines=2000, wrap=True)
        logs.border_title = "daemon log (live tail)"
        yield logs

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if not self._backfilled and not self.model.logs and self.gw.attachment.source.connected:
            self._backfilled = True
            self.run_worker(self._backfill(), group="logs")

    async def _backfill(self) -> None:
        """The live tail starts when we attach; fetch what the daemon kept from before."""
        batch = await self.send(c.FetchLogs(limit=500, min_severity=Severity.DEBUG), "fetch logs")
        if batch is not None and not self.model.logs:
            self.model.add_log_lines(batch.lines)
            self.repaint(set(), set(), full=True)

    def action_level(self) -> None:
        self.floor = _FLOORS[(_FLOORS.index(self.floor) + 1) % len(_FLOORS)]
        self.repaint(set(), set(), full=True)

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        m = self.model
        self.query_one("#level-state", Static).update(
            f"showing {self.floor.value} and above (l changes); "
            f"{m.events_total:,} events, {m.logs_total:,} log lines"
        )
        events = self.query_one("#events", RichLog)
        logs = self.query_one("#logs", RichLog)
        if full or m.events_version != self._events_version:
            events.clear()
            batch = last(m.events, len(m.events))
            self._events_version = m.events_version
        else:
            batch = newest(m.events, m.events_total, self._events_seen, _SHOWN)
        shown = [e for e in batch if event_matches(e, self.floor, self.row_filter)][-_SHOWN:]
        for event in shown:
            events.write(_line(event_cells(event)))
        self._events_seen = m.events_total
        if full:
            logs.clear()
            lines = last(m.logs, len(m.logs))
        else:
            lines = newest(m.logs, m.logs_total, self._logs_seen, _SHOWN)
        for line in [x for x in lines if self._log_matches(x)][-_SHOWN:]:
            logs.write(_line(log_line_text(line)))
        self._logs_seen = m.logs_total

    def _log_matches(self, line: object) -> bool:
        assert isinstance(line, c.LogLine)
        return at_least(line.severity, self.floor) and self.row_filter.matches(
            line.message, line.logger, *line.fields.values()
        )
