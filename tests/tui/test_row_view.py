"""The virtual row view: 10,000 rows render only what is visible; keys move the cursor and scroll."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.scrollbar import ScrollBarRender

from tui.viewmodel.badges import Cell
from tui.widgets.row_view import RowView
from tui.widgets.scrollbar import CachedScrollBar, thumb_eighths


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


class LiveRows(Rows):
    """Rows whose values the test changes, as live tags change."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.values: dict[int, str] = {}

    def cells(self, index: int) -> tuple[Cell, ...]:
        self.rendered.add(index)
        return (Cell(f"row{index}"), Cell(self.values.get(index, str(index * 2)), "bold"))


def screen_texts(view: RowView) -> list[str]:
    """What the view shows now, line by line, through Textual's render pass and our reuse."""
    width, height = view.size
    return [strip.text.rstrip() for strip in view.render_lines(Region(0, 0, width, height))]


def expected_texts(app: LiveRows, view: RowView) -> list[str]:
    top = int(view.scroll_offset.y)
    rows = [
        f"{app.cells(i)[0].text:<10} {app.cells(i)[1].text:<8}".rstrip()
        for i in range(top, min(top + view.size.height - 1, app.count))
    ]
    return ["name       value", *rows]


async def test_reused_rows_show_what_changed_while_scrolling_and_the_cursor_moving() -> None:
    # RowView reuses a row's strip and Textual's styled line while its cells are the same: every
    # change of a value, of the cursor or of the scroll position must still show
    app = LiveRows(1_000)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        view = app.query_one(RowView)
        for step in range(30):  # past the bottom: from key 11 on, each press scrolls by one row
            await pilot.press("down")
            if step % 3 == 0:
                changed = view.cursor + 2
                app.values[changed] = f"v{step}"
                view.refresh_if_visible({changed})
            await pilot.pause()
            assert screen_texts(view) == expected_texts(app, view)
        assert int(view.scroll_offset.y) > 15
        await pilot.press("home")
        await pilot.pause()
        assert screen_texts(view) == expected_texts(app, view)
        # the cursor row is drawn reversed while the view has focus, underlined when it has not
        cursor_line = view.render_lines(Region(0, 1, 40, 1))[0]
        assert any(segment.style is not None and segment.style.reverse for segment in cursor_line)
        view.blur()
        await pilot.pause()
        cursor_line = view.render_lines(Region(0, 1, 40, 1))[0]
        assert any(segment.style is not None and segment.style.underline for segment in cursor_line)
        assert not any(segment.style is not None and segment.style.reverse for segment in cursor_line)


async def test_a_row_is_a_few_segments_with_the_same_text_and_styles() -> None:
    app = Rows(3)
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        view = app.query_one(RowView)
        line = view.render_line(2)  # row 1: not the cursor
        assert line.text == f"{'row1':<10} {'2':<8} ".ljust(40)
        assert len(list(line)) <= 4  # name+gap, value (bold), the rest: not one segment per cell and gap
        bold = [segment.text for segment in line if segment.style is not None and segment.style.bold]
        assert bold == ["2       "]


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 60),
    virtual=st.integers(1, 20_000),
    window=st.integers(0, 60),
    position=st.integers(0, 20_000),
)
def test_the_scrollbar_cache_key_tells_apart_every_thumb_textual_draws(
    size: int, virtual: int, window: int, position: int
) -> None:
    # CachedScrollBar reuses its strips while thumb_eighths is the same: two positions with the
    # same key must draw the same bar (and a different key a different bar)
    window = min(window, virtual - 1) if virtual > 1 else 0
    position = min(position, max(virtual - window, 0))
    other = max(0, position - 1)

    def bar(at: int) -> list[tuple[str, object]]:
        drawn = ScrollBarRender.render_bar(size, virtual, window, at, 1, True)
        return [(segment.text, segment.style) for segment in drawn.segments]

    same_key = thumb_eighths(size, virtual, window, position) == thumb_eighths(size, virtual, window, other)
    assert (bar(position) == bar(other)) == same_key


async def test_the_list_scrollbar_redraws_only_when_its_thumb_moves() -> None:
    app = Rows(10_000)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        view = app.query_one(RowView)
        bar = view.vertical_scrollbar
        assert isinstance(bar, CachedScrollBar)
        region = Region(0, 0, bar.size.width, bar.size.height)
        at_top = bar.render_lines(region)
        for _ in range(12):  # scrolls one row: over 10,000 rows the thumb does not move a cell
            await pilot.press("down")
        await pilot.pause()
        assert bar.render_lines(region) is at_top
        await pilot.press("end")
        await pilot.pause()
        at_end = bar.render_lines(region)
        assert at_end is not at_top
        assert [list(s) for s in at_end] != [list(s) for s in at_top]  # the thumb is at the bottom


async def test_rows_are_reused_without_padding_and_drawn_by_textual_with_it() -> None:
    app = LiveRows(1_000)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        view = app.query_one(RowView)
        for _ in range(15):
            await pilot.press("down")
        await pilot.pause()
        assert view._styled  # the plain view reuses styled rows
        view.styles.padding = (0, 1)
        for _ in range(3):
            await pilot.press("down")
        await pilot.pause()
        width, height = view.size
        lines = [strip.text for strip in view.render_lines(Region(0, 0, width, height))]
        top = int(view.scroll_offset.y)
        assert [line.split()[0] for line in lines[1:]] == [f"row{i}" for i in range(top, top + height - 1)]
        assert all(line.startswith(" ") for line in lines)  # drawn with the padding, by Textual's pass
