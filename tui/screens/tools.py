"""Tools (0): Modbus probe, OPC UA browser, add a Modbus device. (Test-write a tag: W on Tags.)"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

from tui.screens.base import GatewayScreen
from tui.screens.tool_add_device import AddDevicePane
from tui.screens.tool_opcua import OpcUaPane
from tui.screens.tool_probe import ProbePane


class ToolsScreen(GatewayScreen):
    SCREEN_TITLE = "0 Tools"
    PLANT_ACTIONS = frozenset({"add_device", "add_tags"})
    DEFAULT_CSS = """
    ToolsScreen TabbedContent { height: 1fr; }
    ToolsScreen TabPane { height: 1fr; padding: 0; }
    ToolsScreen .row { height: auto; }
    ToolsScreen .row > Vertical { width: 1fr; height: auto; }
    ToolsScreen Input, ToolsScreen Select { margin: 0; }
    """

    def compose_body(self) -> Iterable[Widget]:
        with TabbedContent(id="tools"):
            with TabPane("Modbus probe", id="probe"):
                yield ProbePane()
            with TabPane("OPC UA browser", id="opcua"):
                yield OpcUaPane()
            with TabPane("Add Modbus device", id="add-device"):
                yield AddDevicePane()

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        return  # the tools show command results, not live status
