"""A vertical scrollbar that redraws only when what it draws changes (for :class:`RowView`).

Textual redraws a scrollbar whenever its position changes. Over 10,000 rows the thumb is one cell
tall and moves by an eighth of a cell every ~40 rows, yet each one-row scroll redrew the whole
bar through Rich (a renderable, a console render, line splitting): 2.4 ms of a key press that
costs ~20 ms in all, more than the 34 rows of the list itself (measured in-process, 300 Down
presses over 10,000 tags at 120x40). This bar keeps the strips it rendered last and returns them
while the thumb's cells, the style and the size are the same.

Exact by construction: the cache key is every input of Textual's ``ScrollBarRender.render_bar``
(with the thumb position reduced to the eighths of a cell it draws), so any change that would
draw differently misses the cache. Any other renderer class renders as usual, uncached.
"""

from __future__ import annotations

from math import ceil

from textual.geometry import Region
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

_EIGHTHS = len(ScrollBarRender.VERTICAL_BARS)  # render_bar draws the thumb's ends in these steps


def thumb_eighths(size: int, virtual_size: int, window_size: int, position: float) -> tuple[int, int] | None:
    """The thumb's start and end in eighths of a cell, as ``ScrollBarRender.render_bar`` computes
    them (None: no thumb is drawn)."""
    if not (window_size and size and virtual_size and size != virtual_size):
        return None
    thumb_size = max(1, window_size / (virtual_size / size))
    at = (size - thumb_size) * (position / (virtual_size - window_size))
    start = int(at * _EIGHTHS)
    return start, start + ceil(thumb_size * _EIGHTHS)


class CachedScrollBar(ScrollBar):
    """A :class:`ScrollBar` that reuses its last strips while it would draw the same."""

    def __init__(self, vertical: bool = True, name: str | None = None, *, thickness: int = 1) -> None:
        super().__init__(vertical, name, thickness=thickness)
        self._drawn: tuple[object, list[Strip]] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        renderer = self.render()
        if type(renderer) is not ScrollBarRender:
            return super().render_lines(crop)
        size = self.size
        length = size.height if renderer.vertical else size.width
        key = (
            crop,
            size,
            renderer.vertical,
            renderer.thickness,
            renderer.style,
            renderer.virtual_size,
            renderer.window_size,
            thumb_eighths(length, renderer.virtual_size, renderer.window_size, renderer.position),
        )
        if self._drawn is not None and self._drawn[0] == key:
            return self._drawn[1]
        strips = super().render_lines(crop)
        self._drawn = (key, strips)
        return strips
