"""The two lines at the top of every screen: what this is, and whether the data can be trusted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.viewmodel.model import GatewayModel
from tui.viewmodel.summary import link_banner


class StatusBar(Static):
    """Edge node, link state and read-only mode; a red banner when offline or stale."""

    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 4; background: $boost; }
    """

    def __init__(self) -> None:
        super().__init__("")
        self._last: Text | None = None

    def show(self, model: GatewayModel, now_ms: int, screen_title: str, read_only_reason: str) -> None:
        line = Text()
        g = model.gateway.message if model.gateway else None
        name = f"{g.group_id}/{g.edge_node_id}" if g else "edge-gateway"
        line.append(f" {screen_title} ", style="bold reverse")
        line.append(f" {name} ", style="bold")
        state = model.link.state
        style = {"up": "green", "down": "bold red"}.get(state, "yellow")
        line.append(f"[{'connected' if state == 'up' else state} {model.link.address}]", style=style)
        line.append("  1-0 screens", style="dim")
        if read_only_reason:  # a line of its own, so the reason is never cut
            line.append(f"\nREAD-ONLY: {read_only_reason}", style="bold yellow")
        banner = link_banner(model, now_ms)
        if banner is not None:
            line.append("\n")
            line.append(banner.text, style=banner.style)
        if self._last is None or line.plain != self._last.plain or line.spans != self._last.spans:
            self._last = line
            self.update(line)
