"""Overview (1): identity, uplink, store, broker, device health, devices with problems, alarms."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget

from tui.screens.base import GatewayScreen
from tui.viewmodel import summary
from tui.viewmodel.badges import SEVERITY, Cell
from tui.viewmodel.format import format_clock
from tui.widgets.panel import Panel


class OverviewScreen(GatewayScreen):
    SCREEN_TITLE = "1 Overview"
    DEFAULT_CSS = """
    OverviewScreen Horizontal { height: auto; }
    OverviewScreen Horizontal > Panel { width: 1fr; }
    """

    def compose_body(self) -> Iterable[Widget]:
        with VerticalScroll():
            yield Panel("Gateway", label_width=12, id="gateway")
            with Horizontal():
                yield Panel("Uplink (4)", label_width=19, id="uplink")
                yield Panel("Store and forward (5)", label_width=14, id="store")
            yield Panel("Devices (2)", label_width=12, id="devices")
            yield Panel("Recent alarms (8)", label_width=13, id="alarms")

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        m = self.model
        self.query_one("#gateway", Panel).show(summary.gateway_lines(m, now_ms))
        self.query_one("#uplink", Panel).show(summary.uplink_lines(m, now_ms))
        store = summary.store_lines(m, now_ms)
        keep = {"mode", "backlog", "oldest", "time to empty", "dropped", ""}
        self.query_one("#store", Panel).show([line for line in store if line[0] in keep])
        broker = m.broker.message if m.broker else None
        devices = [("health", summary.device_counts(m))]
        if broker is not None:
            devices.append(("broker", Cell(f"{broker.client_count} clients, {broker.dropped} dropped")))
        devices += summary.problem_devices(m, now_ms)[:5]
        self.query_one("#devices", Panel).show(devices)
        alarms = [
            (
                format_clock(e.timestamp_ms),
                Cell(f"{SEVERITY[e.severity].text}: {e.message}", SEVERITY[e.severity].style),
            )
            for e in summary.alarm_events(m)
        ]
        self.query_one("#alarms", Panel).show(alarms or [("", Cell("none", "green"))])
