"""The command log (``@``): every request this UI sent, its correlation id, outcome and latency."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui.connection.commands import CommandRecord
from tui.viewmodel.format import format_clock


class CommandLogScreen(ModalScreen[None]):
    """A read-only list of the requests sent in this session, newest last."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,at", "close", "Close"),
    ]
    DEFAULT_CSS = """
    CommandLogScreen { align: center middle; }
    CommandLogScreen > Vertical { width: 96%; height: 80%; border: thick $primary; background: $surface; }
    CommandLogScreen DataTable { height: 1fr; }
    """

    def __init__(self, records: Sequence[CommandRecord]) -> None:
        super().__init__()
        self._records = list(records)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"command log: {len(self._records)} requests this session (Esc closes)", markup=False
            )
            table: DataTable[str] = DataTable(cursor_type="row")
            table.add_columns("sent (UTC)", "id", "command", "latency", "outcome")
            for r in self._records:
                latency = "-" if r.latency_ms is None else f"{r.latency_ms} ms"
                table.add_row(
                    format_clock(r.sent_ms, millis=True), r.correlation, r.command.value, latency, r.outcome
                )
            yield table

    def action_close(self) -> None:
        self.dismiss(None)
