"""The ``s`` sort key of the lists (devices, tags, clients): which column orders the rows.

Pressing ``s`` moves to the next column, then back to the list's natural order. Text compares
case-insensitively; a cell that starts with a number (``12.5 bar``, ``3 (0 t/o)``, ``1m05s``)
compares by that number first, so ``9`` comes before ``10``. Rows whose cell has no number sort
after those that have one. The sort is stable: equal cells keep the natural order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)")


def sort_key(text: str) -> tuple[int, float, str]:
    """Order of one cell's text: numbers by value first, then text without case."""
    match = _NUMBER.match(text)
    if match:
        return (0, float(match.group(1)), text.casefold())
    return (1, 0.0, text.casefold())


@dataclass(frozen=True, slots=True)
class SortOrder:
    """Sort by ``column`` (an index into ``columns``), or the natural order when ``column`` is None."""

    columns: tuple[str, ...]
    column: int | None = None

    def next(self) -> SortOrder:
        """The order after one more press of ``s``."""
        if self.column is None:
            return SortOrder(self.columns, 0 if self.columns else None)
        following = self.column + 1
        return SortOrder(self.columns, following if following < len(self.columns) else None)

    @property
    def label(self) -> str:
        return "natural order" if self.column is None else f"sorted by {self.columns[self.column]}"

    def apply(self, items: Sequence[T], cell_text: Callable[[T, int], str]) -> list[T]:
        """``items`` in this order; ``cell_text(item, column)`` gives the text compared."""
        if self.column is None:
            return list(items)
        column = self.column
        return sorted(items, key=lambda item: sort_key(cell_text(item, column)))
