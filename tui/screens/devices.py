"""Devices (2): health, last good poll, errors, last error; Enter drills down to the device's tags."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.worker import Worker

from tui._contract import c
from tui.screens import tables
from tui.screens.base import GatewayScreen
from tui.viewmodel.format import age_s, format_age
from tui.viewmodel.rows import DEVICE_COLUMNS, device_rows


def _ago(now_ms: int, then_ms: int | None) -> str:
    return "never" if then_ms is None else f"{format_age(age_s(now_ms, then_ms))} ago"


class DevicesScreen(GatewayScreen):
    SCREEN_TITLE = "2 Devices"
    HAS_FILTER = True
    SORT_COLUMNS = DEVICE_COLUMNS
    PLANT_ACTIONS = frozenset({"toggle_enabled"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_tags", "Tags", id="open"),
        Binding("E", "toggle_enabled", "Enable/disable", id="enable"),
    ]
    DEFAULT_CSS = """
    DevicesScreen DataTable { height: 1fr; }
    DevicesScreen #detail { height: auto; max-height: 6; border-top: solid $primary-darken-2; }
    """

    def compose_body(self) -> Iterable[Widget]:
        table: DataTable[object] = DataTable(id="devices")
        tables.setup(table, DEVICE_COLUMNS)
        yield table
        yield Static("", id="detail", markup=False)

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        table = self.query_one("#devices", DataTable)
        rows = self.row_order.apply(device_rows(self.model, now_ms, self.row_filter), tables.cell_text)
        tables.sync_rows(table, rows, DEVICE_COLUMNS)
        self._show_detail(now_ms)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail(self.now_ms())

    def selected_text(self) -> str | None:
        return tables.selected_key(self.query_one("#devices", DataTable))

    def _selected(self) -> c.DeviceStatus | None:
        key = tables.selected_key(self.query_one("#devices", DataTable))
        stamped = self.model.devices.get(key) if key else None
        return stamped.message if stamped else None

    def _show_detail(self, now_ms: int) -> None:
        d = self._selected()
        if d is None:
            self.query_one("#detail", Static).update(
                "no device selected" if self.model.devices else "no devices yet"
            )
            return
        text = (
            f"{d.device_id}  {d.protocol} {d.endpoint}  {'enabled' if d.enabled else 'DISABLED'}"
            f"{'' if d.born else '  (not born upstream: DDEATH)'}\n"
            f"poll every {d.poll_interval_ms} ms; last poll {_ago(now_ms, d.last_poll_ms)}; "
            f"{d.polls} polls, {d.errors} errors, {d.timeouts} timeouts, {d.consecutive_errors} in a row\n"
            f"last error: {d.last_error or 'none'}"
        )
        self.query_one("#detail", Static).update(text)

    def action_open_tags(self) -> None:
        d = self._selected()
        if d is not None:
            from tui.screens.tags import TagsScreen

            self.app.push_screen(TagsScreen(d.device_id))

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open_tags()

    def action_toggle_enabled(self) -> Worker[None] | None:
        d = self._selected()
        if d is None:
            return None
        return self.run_worker(self._toggle(d), exclusive=True, group="command")

    async def _toggle(self, d: c.DeviceStatus) -> None:
        verb = "Disable" if d.enabled else "Enable"
        details = f"{verb} polling of {d.device_id} ({d.endpoint}).\n" + (
            "Its tags go DDEATH upstream and stop updating."
            if d.enabled
            else "Polling resumes; DBIRTH follows."
        )
        if not await self.confirm(f"{verb} device {d.device_id}?", details, d.device_id):
            self.notify(f"{verb.lower()} {d.device_id}: cancelled, nothing sent")
            return
        result = await self.send(
            c.SetDeviceEnabled(d.device_id, not d.enabled), f"{verb.lower()} {d.device_id}"
        )
        if result is not None:
            state = "enabled" if result.enabled else "disabled"
            change = "" if result.changed else " (it already was)"
            self.notify(f"{result.device_id} is {state}{change}", title="done")
