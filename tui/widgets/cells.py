"""Turn view-model cells into Rich text."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from tui.viewmodel.badges import Cell

Line = tuple[str, Cell]


def to_text(cell: Cell) -> Text:
    return Text(cell.text, style=cell.style or "", no_wrap=True, overflow="ellipsis")


def lines_text(lines: Sequence[Line], label_width: int = 16) -> Text:
    """Render ``label: value`` lines; a blank label continues under the previous value."""
    out = Text()
    for i, (label, cell) in enumerate(lines):
        if i:
            out.append("\n")
        out.append(f"{label:<{label_width}}" if label else " " * label_width, style="bold")
        out.append(cell.text, style=cell.style or "")
    return out
