"""Broker (6): listeners, traffic and ``$SYS`` figures; clients with their subscription filters; retained
topics. ``/`` filters both tables, ``s`` sorts the focused one (tab moves between them), ``y`` copies
the selected client id, filter or topic."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.screens import tables
from tui.screens.base import GatewayScreen
from tui.viewmodel import broker_rows as br
from tui.viewmodel.sorting import SortOrder
from tui.widgets.panel import Panel


class BrokerScreen(GatewayScreen):
    SCREEN_TITLE = "6 Broker"
    HAS_FILTER = True
    SORT_COLUMNS = br.BROKER_CLIENT_COLUMNS  # the clients' order is ``row_order``; retained has its own
    DEFAULT_CSS = """
    BrokerScreen #broker { max-height: 6; }
    BrokerScreen .table-title { height: 1; padding: 0 1; color: $text-muted; }
    BrokerScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.retained_order = SortOrder(br.RETAINED_COLUMNS)

    def compose_body(self) -> Iterable[Widget]:
        yield Panel("Embedded broker", label_width=10, id="broker")
        yield Static("clients", id="clients-title", classes="table-title", markup=False)
        clients: DataTable[object] = DataTable(id="clients")
        tables.setup(clients, br.BROKER_CLIENT_COLUMNS)
        yield clients
        yield Static("retained", id="retained-title", classes="table-title", markup=False)
        retained: DataTable[object] = DataTable(id="retained")
        tables.setup(retained, br.RETAINED_COLUMNS)
        yield retained

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        m = self.model
        self.query_one("#broker", Panel).show(br.panel_lines(m, now_ms))
        self.query_one("#clients-title", Static).update(f"{br.clients_title(m)}  (s sorts, tab: next table)")
        self.query_one("#retained-title", Static).update(br.retained_title(m))
        rows = br.client_rows_sorted(br.client_groups(m, now_ms, self.row_filter), self.row_order)
        tables.sync_rows(self.query_one("#clients", DataTable), rows, br.BROKER_CLIENT_COLUMNS)
        retained = self.retained_order.apply(br.retained_rows(m, now_ms, self.row_filter), tables.cell_text)
        tables.sync_rows(self.query_one("#retained", DataTable), retained, br.RETAINED_COLUMNS)

    def action_sort(self) -> None:
        if self.query_one("#retained", DataTable).has_focus:
            self.retained_order = self.retained_order.next()
            self.notify(f"retained: {self.retained_order.label}", timeout=2)
            self.repaint(set(), set(), full=True)
            return
        super().action_sort()

    def selected_text(self) -> str | None:
        retained = self.query_one("#retained", DataTable)
        if retained.has_focus:
            return tables.selected_key(retained)
        key = tables.selected_key(self.query_one("#clients", DataTable))
        return None if key is None else br.row_value(key)
