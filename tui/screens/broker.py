"""Broker (6): listeners, clients, subscriptions, retained, $SYS figures."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import DataTable

from tui.screens import tables
from tui.screens.base import GatewayScreen
from tui.viewmodel import summary
from tui.viewmodel.rows import CLIENT_COLUMNS, client_rows
from tui.widgets.panel import Panel


class BrokerScreen(GatewayScreen):
    SCREEN_TITLE = "6 Broker"
    HAS_FILTER = True
    SORT_COLUMNS = CLIENT_COLUMNS
    DEFAULT_CSS = """
    BrokerScreen #broker { max-height: 12; }
    BrokerScreen DataTable { height: 1fr; }
    """

    def compose_body(self) -> Iterable[Widget]:
        yield Panel("Embedded broker", label_width=30, id="broker")
        table: DataTable[object] = DataTable(id="clients")
        tables.setup(table, CLIENT_COLUMNS)
        yield table

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        self.query_one("#broker", Panel).show(summary.broker_lines(self.model, now_ms))
        rows = self.row_order.apply(client_rows(self.model, now_ms, self.row_filter), tables.cell_text)
        tables.sync_rows(self.query_one("#clients", DataTable), rows, CLIENT_COLUMNS)

    def selected_text(self) -> str | None:
        return tables.selected_key(self.query_one("#clients", DataTable))
