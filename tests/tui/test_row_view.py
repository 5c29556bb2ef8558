"""The virtual row view: 10,000 rows render only what is visible; keys move the cursor and scroll."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.viewmodel.badges import Cell
from tui.widgets.row_view import RowView


class Rows(App[None]):
    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.rendered: set[int] = set()
        self.highlighted: list[int] = []

    def compose(self) -> ComposeResult:
        yield RowView([("name", 10), ("value", 8)], id="rows")

    def on_mount(self) -> None:
        self.query_one(RowView).set_rows(self.count, self.cells)
        self.query_one(RowView).focus()

    def cells(self, index: int) -> tuple[Cell, ...]:
        self.rendered.add(index)
        return (Cell(f"row{index}"), Cell(str(index * 2), "bold"))

    def on_row_view_highlighted(self, event: RowView.Highlighted) -> None:
        self.highlighted.append(event.index)


async def test_only_visible_rows_render_and_keys_move_and_scroll() -> None:
    app = Rows(10_000)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        view = app.query_one(RowView)
        assert max(app.rendered) < 12  # 11 body lines visible, not 10,000 rows
        await pilot.press("end")
        assert view.cursor == 9_999 and int(view.scroll_offset.y) > 9_000
        await pilot.press("up", "up", "pageup", "home", "down")
        assert view.cursor == 1 and int(view.scroll_offset.y) == 0
        assert app.highlighted[-1] == 1
        assert len(app.rendered) < 200


async def test_empty_and_shrinking_row_sets_keep_the_cursor_in_range() -> None:
    app = Rows(0)
    async with app.run_test(size=(40, 12)) as pilot:
        view = app.query_one(RowView)
        await pilot.press("down", "end")
        assert view.cursor == 0
        view.set_rows(5, app.cells, cursor=4)
        view.set_rows(2, app.cells)
        assert view.cursor == 1


async def test_a_cursor_move_repaints_two_lines_and_a_changed_row_one() -> None:
    app = Rows(10_000)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        view = app.query_one(RowView)
        app.rendered.clear()
        await pilot.press("down")  # row 0 -> row 1, no scroll
        await pilot.pause()
        assert app.rendered == {0, 1}  # the old and the new cursor line, not the 11 visible rows
        app.rendered.clear()
        assert view.refresh_if_visible({5, 9_000}) is True  # 9,000 is off screen
        await pilot.pause()
        assert app.rendered == {5}
        assert view.refresh_if_visible({9_000}) is False
