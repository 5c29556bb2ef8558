"""Values typed for a tag write are parsed by the tag's datatype; bad ones say what is expected."""

from __future__ import annotations

from collections import deque

import pytest

from tui.viewmodel.tail import last, newest
from tui.viewmodel.values import parse_write_value


@pytest.mark.parametrize(
    ("text", "datatype", "value"),
    [
        ("on", "Boolean", True),
        ("0", "Boolean", False),
        ("0x10", "UInt16", 16),
        ("-5", "Int8", -5),
        ("21.5", "Float", 21.5),
        (" 7 ", "Double", 7.0),
        ("hello ", "String", "hello "),
    ],
)
def test_parses_by_datatype(text: str, datatype: str, value: object) -> None:
    assert parse_write_value(text, datatype) == value


@pytest.mark.parametrize(
    ("text", "datatype", "words"),
    [
        ("maybe", "Boolean", "type true or false"),
        ("1.5", "Int16", "not a whole number (Int16)"),
        ("70000", "UInt16", "does not fit UInt16 (0..65535)"),
        ("-1", "UInt32", "does not fit UInt32"),
        ("abc", "Float", "not a number (Float)"),
        ("nan", "Double", "write a finite number"),
        ("1", "DataSet", "writing DataSet tags from the UI is not supported"),
    ],
)
def test_bad_values_are_explained(text: str, datatype: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_write_value(text, datatype)


def test_newest_items_by_running_total() -> None:
    items: deque[int] = deque(maxlen=5)
    for i in range(8):  # 0..7 appended, 3..7 kept
        items.append(i)
    assert newest(items, 8, 6, 100) == [6, 7]
    assert newest(items, 8, 0, 100) == [3, 4, 5, 6, 7]  # older ones fell out of the deque
    assert newest(items, 8, 0, 2) == [6, 7]
    assert newest(items, 8, 8, 100) == []
    assert last(items, 3) == [5, 6, 7]
