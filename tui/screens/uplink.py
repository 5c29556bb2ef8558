"""Uplink (4): servers with health reasons, the active one, switch history, bdSeq/seq; F fails over,
R asks for a rebirth."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable
from textual.worker import Worker

from tui._contract import c
from tui.screens import tables
from tui.screens.base import GatewayScreen
from tui.viewmodel import summary
from tui.viewmodel.rows import SERVER_COLUMNS, SWITCH_COLUMNS, server_rows, switch_rows
from tui.widgets.panel import Panel


class UplinkScreen(GatewayScreen):
    SCREEN_TITLE = "4 Uplink"
    PLANT_ACTIONS = frozenset({"failover", "rebirth"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("F", "failover", "Fail over", id="failover"),
        Binding("R", "rebirth", "Rebirth", id="rebirth"),
    ]
    DEFAULT_CSS = """
    UplinkScreen #servers { height: auto; max-height: 8; }
    UplinkScreen #switches { height: 1fr; }
    """

    def compose_body(self) -> Iterable[Widget]:
        yield Panel("Sparkplug session", label_width=19, id="session")
        servers: DataTable[object] = DataTable(id="servers")
        tables.setup(servers, SERVER_COLUMNS)
        yield servers
        switches: DataTable[object] = DataTable(id="switches")
        tables.setup(switches, SWITCH_COLUMNS)
        switches.border_title = "switch history (newest first)"
        yield switches

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        self.query_one("#session", Panel).show(summary.uplink_lines(self.model, now_ms))
        tables.sync_rows(
            self.query_one("#servers", DataTable), server_rows(self.model, now_ms), SERVER_COLUMNS
        )
        tables.sync_rows(self.query_one("#switches", DataTable), switch_rows(self.model), SWITCH_COLUMNS)

    def action_failover(self) -> Worker[None]:
        return self.run_worker(self._failover(), exclusive=True, group="command")

    def action_rebirth(self) -> Worker[None]:
        return self.run_worker(self._rebirth(), exclusive=True, group="command")

    async def _failover(self) -> None:
        up = self.model.uplink.message if self.model.uplink else None
        active = up.active_server if up else None
        details = (
            f"Leave the active upstream server ({active or 'none'}) for the next one in the list.\n"
            "Publishing pauses until the next server is connected; data waits in the store."
        )
        if not await self.confirm("Fail over to the next server?", details, "failover"):
            self.notify("failover: cancelled, nothing sent")
            return
        result = await self.send(c.FailoverNow("requested from the terminal UI"), "failover")
        if result is not None:
            self.notify(
                f"leaving {result.from_server or 'none'} for {result.to_server}", title="failover started"
            )

    async def _rebirth(self) -> None:
        details = "Publish NBIRTH and every DBIRTH again (bdSeq unchanged); hosts refresh every metric."
        if not await self.confirm("Rebirth the edge node?", details, "rebirth"):
            self.notify("rebirth: cancelled, nothing sent")
            return
        result = await self.send(c.Rebirth(), "rebirth")
        if result is not None:
            self.notify(
                f"births sent (bdSeq {result.bd_seq}) for {len(result.devices)} devices", title="rebirth"
            )
