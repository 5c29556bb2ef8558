"""Store (5): store-and-forward depth, bytes, oldest age, drain progress, drops."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from tui._contract import StoreMode
from tui.screens.base import GatewayScreen
from tui.viewmodel import summary
from tui.widgets.panel import Panel


class StoreScreen(GatewayScreen):
    SCREEN_TITLE = "5 Store"
    DEFAULT_CSS = """
    StoreScreen ProgressBar { margin: 0 1; }
    StoreScreen #drain-label { margin: 1 1 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._peak = 0  # depth when the current drain began (progress = drained / peak)

    def compose_body(self) -> Iterable[Widget]:
        yield Panel("Store and forward", label_width=15, id="store")
        yield Static("", id="drain-label", markup=False)
        yield ProgressBar(total=1, show_eta=False, id="drain")

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        self.query_one("#store", Panel).show(summary.store_lines(self.model, now_ms))
        bar = self.query_one("#drain", ProgressBar)
        label = self.query_one("#drain-label", Static)
        store = self.model.store.message if self.model.store else None
        if store is None or store.mode is not StoreMode.DRAINING:
            self._peak = store.depth if store else 0
            label.update("no drain in progress" if store else "")
            bar.update(total=1, progress=1 if store and store.depth == 0 else 0)
            return
        self._peak = max(self._peak, store.depth)
        drained = self._peak - store.depth
        label.update(f"draining: {drained:,} of {self._peak:,} sent since the drain began")
        bar.update(total=max(self._peak, 1), progress=drained)
