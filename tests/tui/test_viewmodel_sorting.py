"""The ``s`` sort order of the lists: numbers by value, text without case, stable, cycling."""

from __future__ import annotations

from tui.viewmodel.sorting import SortOrder, sort_key


def test_numbers_sort_by_value_before_text() -> None:
    cells = ["10 bar", "9 bar", "-1.5", "Beta", "alpha", "1m05s"]
    assert sorted(cells, key=sort_key) == ["-1.5", "1m05s", "9 bar", "10 bar", "alpha", "Beta"]


def test_s_cycles_through_the_columns_then_back_to_natural_order() -> None:
    order = SortOrder(("device", "proto"))
    seen = []
    for _ in range(4):
        seen.append(order.label)
        order = order.next()
    assert seen == ["natural order", "sorted by device", "sorted by proto", "natural order"]
    assert SortOrder(()).next().column is None  # a screen without columns never sorts


def test_apply_is_stable_and_keeps_natural_order_when_off() -> None:
    rows = [("b", "2"), ("a", "1"), ("c", "1")]
    assert SortOrder(("name", "n")).apply(rows, lambda r, i: r[i]) == rows
    by_n = SortOrder(("name", "n"), 1).apply(rows, lambda r, i: r[i])
    assert by_n == [("a", "1"), ("c", "1"), ("b", "2")]
