"""A virtual table for very long lists (10,000+ tags): only the lines on screen are ever rendered.

Textual's DataTable keeps a cell object per row and column and measures each added row, which makes
10,000 rows slow to add (seconds) and every cell update invalidate its caches. This widget holds no
rows at all: it knows how many there are and asks ``row_cells(index)`` for the few that are visible
when it renders a line (Textual's line API, ``render_line``). Live values therefore always render from
the model as it is now; a repaint is one ``refresh()`` of the visible region, and only when a visible
row changed.

What a line cost is kept while it is still right (the UI's CPU at 1,000 tag changes/s went mostly to
drawing): each row's strip while its cells, cursor mark, style and width are the same, and the line
Textual styled from that strip (a one-row scroll makes Textual repaint every line; all but one are
rows already drawn). The vertical scrollbar redraws only when its thumb moves
(:class:`~tui.widgets.scrollbar.CachedScrollBar`).

Keys: up/down (k/j), page up/down, home/end (g/G); Enter posts :class:`RowView.Selected`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from tui.viewmodel.badges import Cell
from tui.widgets.scrollbar import CachedScrollBar

RowCells = Callable[[int], Sequence[Cell]]

_HEADER = Style(bold=True)
_CURSOR = Style(reverse=True)
_UNDERLINE = Style(underline=True)
_GAP = 1
_GAP_TEXT = " " * _GAP
_CACHED_ROWS = 256  # strips of rows rendered lately (a screenful is ~40): more and the cache restarts


class RowView(ScrollView, can_focus=True):
    """A virtual, read-only table with a fixed header and a row cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First", show=False),
        Binding("end,G", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open", show=False),
    ]
    DEFAULT_CSS = """
    RowView { height: 1fr; }
    """

    class Highlighted(Message):
        """The cursor moved to ``index``."""

        def __init__(self, view: RowView, index: int) -> None:
            super().__init__()
            self.view = view
            self.index = index

    class Selected(Highlighted):
        """Enter was pressed on ``index``."""

    def __init__(
        self,
        columns: Sequence[tuple[str, int]],
        *,
        id: str | None = None,
        on_highlight: Callable[[int], None] | None = None,
    ) -> None:
        """``on_highlight(index)`` runs inside the key's own handler when the cursor moves (before
        the :class:`Highlighted` message), so what the owner shows about the selected row is in the
        same screen update as the cursor, not one frame (1/60 s) or a message round later."""
        super().__init__(id=id)
        self._on_highlight = on_highlight
        self.columns = list(columns)
        self.row_count = 0
        self.cursor = 0
        self._row_cells: RowCells = lambda _index: ()
        self._style_cache: dict[str, Style] = {}
        self._width = sum(w for _, w in self.columns) + _GAP * len(self.columns)
        self._base = Style()  # the widget's style, looked up once per render pass (not per line)
        self._focused = False
        # index -> (what the row was rendered from, its strip): a row whose cells, cursor mark,
        # style and width did not change is not rebuilt. Scrolling by one line re-renders every
        # visible line (Textual repaints the whole view), and all but one are such rows.
        self._strips: dict[int, tuple[tuple[object, ...], Strip]] = {}
        # row index -> (its content strip, the surroundings, the line Textual styled from it)
        self._styled: dict[int, tuple[Strip, tuple[object, ...], Strip]] = {}
        self._surroundings: tuple[object, ...] = ()
        self._rendering: dict[int, Strip] = {}  # content lines made in the current pass
        self._header: tuple[tuple[object, ...], Strip] | None = None

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """Textual's own property, creating a :class:`CachedScrollBar` instead (same private
        fields and start-up; Textual is pinned exactly in pyproject.toml)."""
        if self._vertical_scrollbar is None:
            bar = CachedScrollBar(vertical=True, name="vertical", thickness=self.scrollbar_size_vertical)
            bar.display = False
            self._vertical_scrollbar = bar
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

    # ---- content ------------------------------------------------------------------------------------

    def set_rows(self, count: int, row_cells: RowCells, cursor: int | None = None) -> None:
        """Show ``count`` rows, rendered on demand by ``row_cells(index)``."""
        self.row_count = count
        self._row_cells = row_cells
        self._strips.clear()  # indices now name other rows
        self._styled.clear()
        self.virtual_size = Size(self._width, count + 1)
        self.cursor = max(0, min(self.cursor if cursor is None else cursor, count - 1))
        self._scroll_to_cursor()
        self.refresh()
        self._highlighted(self.cursor)

    def visible_rows(self) -> range:
        top = int(self.scroll_offset.y)
        return range(top, min(top + max(self.size.height - 1, 0), self.row_count))

    def refresh_if_visible(self, indices: set[int]) -> bool:
        """Repaint those of ``indices`` that are on screen (only their lines); returns whether any was."""
        visible = self.visible_rows()
        shown = [i for i in indices if i in visible]
        for index in shown:
            self._refresh_row(index)
        return bool(shown)

    def _refresh_row(self, index: int) -> None:
        """Repaint the one line of row ``index`` (a key press costs two lines, not the whole view)."""
        y = index - int(self.scroll_offset.y) + 1  # line 0 is the header
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, max(self._width, self.size.width), 1))

    # ---- rendering ------------------------------------------------------------------------------------

    def _style(self, text: str) -> Style:
        style = self._style_cache.get(text)
        if style is None:
            style = self._style_cache[text] = Style.parse(text) if text else Style()
        return style

    def render_lines(self, crop: Region) -> list[Strip]:
        # rich_style walks every ancestor's styles: once per pass, not once per line (a full
        # repaint of 40 lines spent more time there than in the rows themselves)
        self._base = self.rich_style
        self._focused = self.has_focus
        styles = self.styles
        if (
            any(styles.gutter)  # padding or border: a styled line depends on where it is
            or any(style for style, _color in styles.outline)
            or styles.has_rule("hatch")
            or styles.tint.a
            or self.opacity != 1.0
            or styles.text_opacity != 1.0
        ):
            return super().render_lines(crop)  # Textual's pass then does what only it knows
        ready = self._reuse_styled_rows(crop)
        try:
            strips = super().render_lines(crop)
        finally:
            self._rendering = {}
        cache = self._styles_cache._cache
        for y, index, content in ready:
            if y in cache:
                self._styled[index] = (content, self._surroundings, cache[y])
        return strips

    def _reuse_styled_rows(self, crop: Region) -> list[tuple[int, int, Strip]]:
        """Before Textual's render pass: give its line cache the styled line of every row whose
        content strip is the very object that line was styled from (Textual 8.2.8 internals:
        ``StylesCache._cache`` and ``_dirty_lines``, pinned in pyproject.toml).

        Textual styles a line (``StylesCache.render_line``: background, padding, a new strip) each
        time it is dirty, and scrolling by one row makes every line dirty; every row but one is
        then on screen already, with the same content. Reusing its styled strip also reuses what
        Textual cached on that strip afterwards (line filters, division at widget edges, the
        escape sequences written to the terminal). Without padding or border (checked by the
        caller) a row's styled line is the same on any line of the view.

        Returns the (line, row, content) of the dirty rows left for Textual to style, so their
        styled lines can be kept after the pass.
        """
        sc = self._styles_cache
        surroundings = (self.region.size, self.background_colors)
        if surroundings != self._surroundings:
            self._styled.clear()
            self._surroundings = surroundings
        if sc._width != self.region.width:
            return []  # Textual clears its line cache first
        if len(self._styled) > _CACHED_ROWS:
            self._styled.clear()
        top = int(self.scroll_offset.y)
        dirty, cache = sc._dirty_lines, sc._cache
        left: list[tuple[int, int, Strip]] = []
        for y in crop.line_range:
            if y == 0 or (y not in dirty and y in cache):
                continue  # the header, or a line Textual has clean
            index = top + y - 1
            content = self._rendering[y] = self.render_line(y)
            done = self._styled.get(index)
            if done is not None and done[0] is content:
                cache[y] = done[2]
                dirty.discard(y)
            else:
                left.append((y, index, content))
        return left

    def render_line(self, y: int) -> Strip:
        content = self._rendering.get(y)
        if content is not None:  # already made in this pass (see _render_lines_reusing)
            return content
        scroll_x = int(self.scroll_offset.x)
        width = self.size.width
        base = self._base
        if y == 0:
            header_key = (base, width, scroll_x)
            if self._header is not None and self._header[0] == header_key:
                return self._header[1]
            segments = [
                Segment(set_cell_size(name, w) + " " * _GAP, base + _HEADER) for name, w in self.columns
            ]
            header = Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width, base)
            self._header = (header_key, header)
            return header
        index = int(self.scroll_offset.y) + y - 1
        if index >= self.row_count:
            return Strip.blank(width, base)
        cells = self._row_cells(index)
        mark = 0 if index != self.cursor else 2 if self._focused else 1
        key = (cells, mark, base, width, scroll_x)
        cached = self._strips.get(index)
        if cached is not None and cached[0] == key:
            return cached[1]
        if mark == 2:
            row_style = base + _CURSOR
        elif mark == 1:
            row_style = base + _UNDERLINE
        else:
            row_style = base
        strip = self._row_strip(cells, row_style, width, scroll_x)
        if len(self._strips) > _CACHED_ROWS:
            self._strips.clear()
        self._strips[index] = (key, strip)
        return strip

    def _row_strip(self, cells: Sequence[Cell], row_style: Style, width: int, scroll_x: int) -> Strip:
        """One row as few segments as its styles allow: runs of equal style are one segment (a
        row of 7 columns is ~5 segments, not 15), and everything Textual does to a line after
        this (filters, division at widget edges, output) is per segment."""
        texts: list[str] = []
        styles: list[Style] = []
        for (_, w), cell in zip(self.columns, cells, strict=False):
            style = row_style + self._style(cell.style) if cell.style else row_style
            text = set_cell_size(cell.text, w)
            if styles and styles[-1] == style:
                texts[-1] += text
            else:
                texts.append(text)
                styles.append(style)
            if styles[-1] == row_style:
                texts[-1] += _GAP_TEXT
            else:
                texts.append(_GAP_TEXT)
                styles.append(row_style)
        if scroll_x == 0:
            used = sum(w for _, w in self.columns[: len(cells)]) + _GAP * min(len(cells), len(self.columns))
            if used <= width:  # the common case: no crop, pad with the row's style
                if used < width:
                    if styles and styles[-1] == row_style:
                        texts[-1] += " " * (width - used)
                    else:
                        texts.append(" " * (width - used))
                        styles.append(row_style)
                return Strip([Segment(t, st) for t, st in zip(texts, styles, strict=True)], width)
        strip = Strip([Segment(t, st) for t, st in zip(texts, styles, strict=True)])
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, row_style)

    # ---- cursor -------------------------------------------------------------------------------------------

    def _scroll_to_cursor(self) -> bool:
        """Scroll so the cursor is visible; returns whether that scrolled."""
        body = max(self.size.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)
        else:
            return False
        return True

    def _move_to(self, index: int) -> None:
        if self.row_count == 0:
            return
        index = max(0, min(index, self.row_count - 1))
        if index != self.cursor:
            previous, self.cursor = self.cursor, index
            if self._scroll_to_cursor():
                self.refresh()
            else:  # only the old and the new cursor line change
                self._refresh_row(previous)
                self._refresh_row(index)
            self._highlighted(index)

    def _highlighted(self, index: int) -> None:
        if self._on_highlight is not None:
            self._on_highlight(index)
        self.post_message(self.Highlighted(self, index))

    def action_move(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(self.size.height - 2, 1))

    def action_jump(self, where: int) -> None:
        self._move_to(where if where >= 0 else self.row_count - 1)

    def action_select(self) -> None:
        if self.row_count:
            self.post_message(self.Selected(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._move_to(int(self.scroll_offset.y) + event.y - 1)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
