"""Which items of a bounded history are new since a screen last looked (by running totals)."""

from __future__ import annotations

import itertools
from collections import deque
from typing import TypeVar

T = TypeVar("T")


def newest(items: deque[T], total: int, seen: int, limit: int) -> list[T]:
    """The items added since the total was ``seen`` (at most ``limit``, oldest first).

    ``total`` counts every item ever appended; the deque keeps only the last ``maxlen`` of them.
    """
    count = min(total - seen, len(items), limit)
    if count <= 0:
        return []
    return list(itertools.islice(reversed(items), count))[::-1]


def last(items: deque[T], limit: int) -> list[T]:
    """The last ``limit`` items, oldest first."""
    return newest(items, len(items), 0, limit)
