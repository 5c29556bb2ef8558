"""A bordered key/value panel that repaints only when its content changes."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import Static

from tui.widgets.cells import Line, lines_text


class Panel(Static):
    """A titled block of ``label: value`` lines."""

    DEFAULT_CSS = """
    Panel { border: round $primary-darken-2; height: auto; padding: 0 1; }
    """

    def __init__(self, title: str, *, label_width: int = 16, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.border_title = title
        self._label_width = label_width
        self._last: tuple[Line, ...] = ()

    def show(self, lines: Sequence[Line]) -> None:
        key = tuple(lines)
        if key != self._last:
            self._last = key
            self.update(lines_text(lines, self._label_width))
