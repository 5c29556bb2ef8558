"""Tags (3, and Enter on a device): live value, quality, timestamp, age, sparkline; W writes.

Built for 10,000 tags changing 1,000 times a second: the list is a :class:`RowView`, which holds no
rows and renders only the visible lines straight from the model. A repaint therefore costs nothing
unless a visible tag changed (or the ages moved, once a second), and then one refresh of the visible
region. The key list is rebuilt only when the set of tags or the filter changes. A row's cells are
cached until what they show changes; ages are as of the last once-a-second age refresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Sparkline, Static
from textual.worker import Worker

from tui._contract import c
from tui.screens.base import GatewayScreen
from tui.viewmodel.badges import Cell
from tui.viewmodel.format import age_s, format_age, format_value
from tui.viewmodel.model import TagEntry
from tui.viewmodel.rows import TAG_COLUMNS, tag_cells, tag_keys
from tui.viewmodel.values import parse_write_value
from tui.widgets.ask import AskScreen
from tui.widgets.row_view import RowView

_AGE_EVERY_MS = 1000
_CACHED_ROWS = 512  # rows' cells kept (a screenful is ~40): more and the cache restarts
_WIDTHS = (28, 16, 9, 13, 7, 8, 1)


class TagsScreen(GatewayScreen):
    SCREEN_TITLE = "3 Tags"
    HAS_FILTER = True
    SORT_COLUMNS = TAG_COLUMNS
    PLANT_ACTIONS = frozenset({"write"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("W", "write", "Write", id="write"),
        Binding("escape", "back", "Back", id="back"),
    ]
    DEFAULT_CSS = """
    TagsScreen RowView { height: 1fr; }
    TagsScreen #spark { height: 2; }
    TagsScreen #tag-detail { height: 1; border-top: solid $primary-darken-2; height: 2; }
    """

    def __init__(self, device_id: str | None = None) -> None:
        super().__init__()
        self.device_id = device_id
        self._keys: list[tuple[str, str]] = []
        self._index: dict[tuple[str, str], int] = {}
        self._version = -1
        self._filter_text = ""
        self._sort: int | None = None
        self._ages_at = 0
        self._stale = False
        self._cells: dict[tuple[str, str], tuple[tuple[object, ...], tuple[Cell, ...]]] = {}

    @property
    def screen_title(self) -> str:
        return self.SCREEN_TITLE if self.device_id is None else f"Tags of {self.device_id} (Esc back)"

    def compose_body(self) -> Iterable[Widget]:
        columns = list(zip(TAG_COLUMNS, _WIDTHS, strict=True))
        yield RowView(columns, id="tags", on_highlight=lambda _index: self._show_selected())
        yield Static("", id="tag-detail", markup=False)
        yield Sparkline([], id="spark")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.device_id is not None
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        self.app.pop_screen()

    def _entry(self, key: tuple[str, str]) -> TagEntry | None:
        return self.model.tags.get(key[0], {}).get(key[1])

    def _row_cells(self, index: int) -> tuple[Cell, ...]:
        key = self._keys[index]
        entry = self._entry(key)
        if entry is None:
            return (Cell(f"{key[0]}/{key[1]}"), Cell("(removed)", "bright_black"))
        # Ages are as of the last age refresh (once a second, for every visible row), not as of
        # this render: a row drawn again in between (scrolling draws every visible row) shows
        # the same age as its neighbours, and its cached cells stay valid (below 10 s an age has
        # tenths, so "now" changed it at every render). A value newer than that shows 0.0s.
        now_ms = self._ages_at
        # Cells are cached per tag until something they show changes (value and age compared as
        # text: 1 == 1.0 == True, and the age moves once a second): scrolling re-renders every
        # visible row, and formatting a row's clock time cost more than the rest of drawing it.
        shown = (
            format_value(entry.value, entry.unit),
            entry.quality,
            entry.timestamp_ms,
            entry.datatype,
            entry.writable,
            self._stale,
            format_age(age_s(now_ms, entry.timestamp_ms)),
        )
        cached = self._cells.get(key)
        if cached is not None and cached[0] == shown:
            return cached[1]
        cells = tag_cells(entry, now_ms, self._stale)
        if self.device_id is None:
            cells = (cells[0]._replace(text=f"{key[0]}/{key[1]}"), *cells[1:])
        if len(self._cells) > _CACHED_ROWS:
            self._cells.clear()
        self._cells[key] = (shown, cells)
        return cells

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        view = self.query_one("#tags", RowView)
        self._stale = self.model.is_stale(now_ms, now_ms)  # link down or daemon offline: dim every value
        if (
            self.model.tag_set_version != self._version
            or self.row_filter.text != self._filter_text
            or self.row_order.column != self._sort
        ):
            self._rebuild(view, now_ms)
            self._show_selected()
            return
        ages_due = full or now_ms - self._ages_at >= _AGE_EVERY_MS or "link" in dirty
        if ages_due:
            self._ages_at = now_ms
            view.refresh()
        elif changed:
            view.refresh_if_visible({self._index[k] for k in changed if k in self._index})
        selected = self._selected_key()
        if selected is not None and selected in changed:
            self._show_selected()

    def _rebuild(self, view: RowView, now_ms: int) -> None:
        selected = self._selected_key()
        self._version = self.model.tag_set_version
        self._filter_text = self.row_filter.text
        self._sort = self.row_order.column
        keys = tag_keys(self.model, self.device_id, self.row_filter)
        if self._sort is not None:
            # sorted when the order or the set of tags changes, not at every value change: rows
            # do not jump under the cursor while values move (10,000 tags: ~0.1 s, once per press)
            keys = self.row_order.apply(keys, self._key_cell_text)
        self._keys = keys
        self._index = {key: i for i, key in enumerate(self._keys)}
        self._ages_at = now_ms
        cursor = self._index.get(selected, 0) if selected is not None else 0
        view.set_rows(len(self._keys), self._row_cells, cursor)

    def _key_cell_text(self, key: tuple[str, str], column: int) -> str:
        entry = self._entry(key)
        if entry is None:
            return ""
        if column == 0:
            return f"{key[0]}/{key[1]}"
        return tag_cells(entry, self.now_ms(), False)[column].text

    def selected_text(self) -> str | None:
        key = self._selected_key()
        entry = self._entry(key) if key else None
        return None if entry is None else format_value(entry.value, entry.unit)

    def _selected_key(self) -> tuple[str, str] | None:
        view = self.query_one("#tags", RowView)
        if view.row_count == 0 or not 0 <= view.cursor < len(self._keys):
            return None
        return self._keys[view.cursor]

    def _show_selected(self) -> None:
        key = self._selected_key()
        entry = self._entry(key) if key else None
        detail = self.query_one("#tag-detail", Static)
        spark = self.query_one("#spark", Sparkline)
        if key is None or entry is None:
            detail.update("no tag selected" if self.model.tags else "no tags yet", layout=False)
            spark.data = []
            return
        writable = "writable (W)" if entry.writable else "read-only"
        detail.update(
            f"{key[0]}/{key[1]}  {format_value(entry.value, entry.unit)}  {entry.datatype}  {writable}  "
            f"trend of the last {len(entry.history)} values",
            layout=False,  # a fixed-size line: no layout of the whole screen per key
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
