"""Tags (3, and Enter on a device): live value, quality, timestamp, age, sparkline; W writes.

Built for 10,000 tags changing 1,000 times a second: rows are added once (again only when the set
of tags or the filter changes); after that a repaint updates, in place, only the cells of rows that
are on screen and changed (or whose age moved), never the whole table. Changes to rows off screen
are remembered and painted when they scroll into view.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Sparkline, Static
from textual.worker import Worker

from tui._contract import c
from tui.screens import tables
from tui.screens.base import GatewayScreen
from tui.viewmodel.badges import Cell
from tui.viewmodel.format import format_value
from tui.viewmodel.model import TagEntry
from tui.viewmodel.rows import TAG_COLUMNS, tag_cells, tag_key, tag_keys
from tui.viewmodel.values import parse_write_value
from tui.widgets.ask import AskScreen
from tui.widgets.cells import to_text

_AGE_EVERY_MS = 1000


class TagsScreen(GatewayScreen):
    SCREEN_TITLE = "3 Tags"
    HAS_FILTER = True
    PLANT_ACTIONS = frozenset({"write"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("W", "write", "Write", id="write"),
        Binding("escape", "back", "Back", id="back"),
    ]
    DEFAULT_CSS = """
    TagsScreen DataTable { height: 1fr; }
    TagsScreen #spark { height: 3; border-top: solid $primary-darken-2; }
    TagsScreen #tag-detail { height: 1; }
    """

    def __init__(self, device_id: str | None = None) -> None:
        super().__init__()
        self.device_id = device_id
        self._keys: list[tuple[str, str]] = []
        self._index: dict[tuple[str, str], int] = {}
        self._version = -1
        self._pending: set[tuple[str, str]] = set()
        self._ages_at = 0

    @property
    def screen_title(self) -> str:
        return self.SCREEN_TITLE if self.device_id is None else f"Tags of {self.device_id} (Esc back)"

    def compose_body(self) -> Iterable[Widget]:
        table: DataTable[object] = DataTable(id="tags")
        tables.setup(table, TAG_COLUMNS)
        yield table
        yield Static("", id="tag-detail")
        yield Sparkline([], id="spark")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.device_id is not None
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        self.app.pop_screen()

    def _entry(self, key: tuple[str, str]) -> TagEntry | None:
        return self.model.tags.get(key[0], {}).get(key[1])

    def _cells(self, key: tuple[str, str], entry: TagEntry, now_ms: int) -> tuple[Cell, ...]:
        cells = tag_cells(entry, now_ms, self.model.is_stale(now_ms, now_ms))
        if self.device_id is None:
            cells = (cells[0]._replace(text=f"{key[0]}/{key[1]}"), *cells[1:])
        return cells

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        table = self.query_one("#tags", DataTable)
        if full or self.model.tag_set_version != self._version:
            self._rebuild(table, now_ms)
            self._show_selected()
            return
        self._pending |= changed & self._index.keys()
        ages_due = now_ms - self._ages_at >= _AGE_EVERY_MS or "link" in dirty
        if ages_due:
            self._ages_at = now_ms
        for row in tables.visible_range(table):
            key = self._keys[row]
            if key in self._pending or ages_due:
                self._pending.discard(key)
                entry = self._entry(key)
                if entry is not None:
                    tables.update_row(table, tag_key(*key), self._cells(key, entry, now_ms), TAG_COLUMNS)
        selected = self._selected_key()
        if selected is not None and selected in changed:
            self._show_selected()

    def _rebuild(self, table: DataTable[object], now_ms: int) -> None:
        selected = tables.selected_key(table)
        self._version = self.model.tag_set_version
        self._keys = tag_keys(self.model, self.device_id, self.row_filter)
        self._index = {key: i for i, key in enumerate(self._keys)}
        self._pending.clear()
        self._ages_at = now_ms
        table.clear()
        for key in self._keys:
            entry = self._entry(key)
            assert entry is not None
            table.add_row(*(to_text(cell) for cell in self._cells(key, entry, now_ms)), key=tag_key(*key))
        flat = [tag_key(*k) for k in self._keys]
        if selected in flat:
            table.move_cursor(row=flat.index(selected))

    def _selected_key(self) -> tuple[str, str] | None:
        table = self.query_one("#tags", DataTable)
        if table.row_count == 0 or not 0 <= table.cursor_row < len(self._keys):
            return None
        return self._keys[table.cursor_row]

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        key = self._selected_key()
        entry = self._entry(key) if key else None
        detail = self.query_one("#tag-detail", Static)
        spark = self.query_one("#spark", Sparkline)
        if key is None or entry is None:
            detail.update("no tag selected" if self.model.tags else "no tags yet")
            spark.data = []
            return
        writable = "writable (W)" if entry.writable else "read-only"
        detail.update(
            f"{key[0]}/{key[1]}  {format_value(entry.value, entry.unit)}  {entry.datatype}  {writable}  "
            f"trend of the last {len(entry.history)} values"
        )
        spark.data = list(entry.history)

    def action_write(self) -> Worker[None] | None:
        key = self._selected_key()
        entry = self._entry(key) if key else None
        if key is None or entry is None:
            return None
        if not entry.writable:
            self.notify(f"{key[0]}/{key[1]} is read-only (not `writable: true` in the configuration)")
            return None
        return self.run_worker(self._write(key, entry), exclusive=True, group="command")

    async def _write(self, key: tuple[str, str], entry: TagEntry) -> None:
        device, name = key
        old = format_value(entry.value, entry.unit)
        text = await self.app.push_screen_wait(
            AskScreen(f"New value for {device}/{name} ({entry.datatype}, now {old}):")
        )
        if text is None:
            return
        try:
            value = parse_write_value(text, entry.datatype)
        except ValueError as exc:
            self.notify(str(exc), title="not written", severity="error")
            return
        details = (
            f"device {device}, tag {name} ({entry.datatype})\n"
            f"now:  {old}\nnew:  {format_value(value, entry.unit)}\n"
            "The value is written to the device, then read back."
        )
        if not await self.confirm(f"Write {device}/{name}?", details, name):
            self.notify(f"write {device}/{name}: cancelled, nothing sent")
            return
        result = await self.send(c.WriteTag(device, name, value), f"write {device}/{name}")
        if result is not None:
            old_text, new_text = format_value(result.old_value), format_value(result.new_value)
            self.notify(f"{device}/{name}: {old_text} -> {new_text} (read back)", title="written")
