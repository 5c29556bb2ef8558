"""DataTable helpers: fill from view-model rows, and update cells in place instead of rebuilding."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from tui.viewmodel.badges import Cell
from tui.viewmodel.rows import Row
from tui.widgets.cells import to_text


def setup(table: DataTable[object], columns: Sequence[str]) -> None:
    table.cursor_type = "row"
    table.zebra_stripes = True
    for name in columns:
        table.add_column(name, key=name)


def sync_rows(table: DataTable[object], rows: Sequence[Row], columns: Sequence[str]) -> None:
    """Make ``table`` show ``rows``: cells are updated in place when the row keys are the same,
    and the table is rebuilt (keeping the cursor on the same key) only when the keys differ."""
    keys = [row.key for row in rows]
    current = [str(k.value) for k in table.rows]
    if keys == current:
        for row in rows:
            update_row(table, row.key, row.cells, columns)
        return
    selected = selected_key(table)
    table.clear()
    for row in rows:
        table.add_row(*(to_text(c) for c in row.cells), key=row.key)
    if selected in keys:
        table.move_cursor(row=keys.index(selected))


def update_row(table: DataTable[object], key: str, cells: Sequence[Cell], columns: Sequence[str]) -> None:
    """Update only the cells whose text or style changed (each update costs a repaint)."""
    old = table.get_row(key)
    for index, (column, cell) in enumerate(zip(columns, cells, strict=True)):
        previous = old[index]
        text = to_text(cell)
        if getattr(previous, "plain", None) != text.plain or getattr(previous, "style", None) != text.style:
            table.update_cell(key, column, text)


def cell_text(row: Row, column: int) -> str:
    """The text of one cell (what a sort compares)."""
    return row.cells[column].text


def selected_key(table: DataTable[object]) -> str | None:
    if table.row_count == 0:
        return None
    try:
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
    except CellDoesNotExist:  # the cursor is out of range right after a clear
        return None


def visible_range(table: DataTable[object]) -> range:
    """Indices of the rows on screen now (header excluded; rows are one line high)."""
    top = int(table.scroll_offset.y)
    height = max(table.size.height - 1, 1)
    return range(top, min(top + height + 1, table.row_count))
