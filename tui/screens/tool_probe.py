"""The Modbus probe: read one address once, decoded with a chosen type and byte order, and shown
decoded in every byte order side by side (the quickest way to find a device's word order)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static

from tui._contract import c
from tui.screens._form import choice, choice_of, field, gateway_screen, int_of, text_of
from tui.viewmodel.format import format_value


class ProbePane(Vertical):
    DEFAULT_CSS = """
    ProbePane Horizontal { height: auto; }
    ProbePane Input, ProbePane Select { width: 1fr; }
    ProbePane #probe-table { height: auto; max-height: 8; }
    ProbePane Button { margin: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield field("device id", id="p-device", placeholder="configured device, or empty")
            yield field("host", id="p-host", placeholder="when no device id")
            yield field("port", "502", id="p-port")
            yield field("unit", "1", id="p-unit")
        with Horizontal():
            yield choice("table", [t.value for t in c.ModbusTable], "holding", id="p-table")
            yield field("address (0-based)", "0", id="p-address")
            yield choice("type", [t.value for t in c.ModbusType], "float32", id="p-type")
            yield choice("byte order", [o.value for o in c.ByteOrder], "ABCD", id="p-order")
        with Horizontal():
            yield field("count (string)", "1", id="p-count")
            yield Button("Read", id="p-read", variant="primary")
        yield Static("", id="p-result", markup=False)
        table: DataTable[object] = DataTable(id="probe-table", cursor_type="row")
        table.add_columns("byte order", "value", "")
        yield table

    def request(self) -> tuple[c.ModbusRead | None, list[str]]:
        """The request the form describes, or every problem with it."""
        problems: list[str] = []
        device = text_of(self, "p-device") or None
        host = text_of(self, "p-host") or None
        if device is None and host is None:
            problems.append("give a configured device id, or a host to connect to")
        port = int_of(self, "p-port", "port", problems)
        unit = int_of(self, "p-unit", "unit", problems)
        address = int_of(self, "p-address", "address", problems)
        count = int_of(self, "p-count", "count", problems)
        if problems:
            return None, problems
        return c.ModbusRead(
            address=address,
            data_type=c.ModbusType(choice_of(self, "p-type")),
            table=c.ModbusTable(choice_of(self, "p-table")),
            device_id=device,
            host=None if device else host,
            port=port,
            unit=unit,
            byte_order=c.ByteOrder(choice_of(self, "p-order")),
            count=count,
        ), []

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "p-read":
            event.stop()
            self.run_worker(self._read(), exclusive=True, group="probe")

    async def _read(self) -> None:
        request, problems = self.request()
        result_box = self.query_one("#p-result", Static)
        if request is None:
            result_box.update("\n".join(problems))
            return
        where = request.device_id or f"{request.host}:{request.port} unit {request.unit}"
        result_box.update(f"reading {request.table.value} {request.address} on {where}...")
        result = await gateway_screen(self).send(request, "Modbus read")
        table = self.query_one("#probe-table", DataTable)
        table.clear()
        if result is None:
            result_box.update("read failed: see the message")
            return
        regs = " ".join(f"{r:04X}" for r in result.registers)
        result_box.update(
            f"registers (hex): {regs}   {request.data_type.value} {request.byte_order.value} = "
            f"{format_value(result.value)}   ({result.response_ms:.1f} ms)"
        )
        for decoded in result.decoded:
            mark = "<- chosen" if decoded.byte_order is request.byte_order else ""
            table.add_row(decoded.byte_order.value, format_value(decoded.value), mark)
