"""Parse a value typed by a person for a tag write, by the tag's Sparkplug datatype."""

from __future__ import annotations

import math

from tui._contract import TagScalar

_INT_RANGES = {
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
}
_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}


def parse_write_value(text: str, datatype: str) -> TagScalar:
    """Turn ``text`` into a value of ``datatype`` ("Float", "Int16", "Boolean", "String", ...).

    Raises:
        ValueError: the text is not a value of that type; the message says what is expected.
    """
    raw = text.strip()
    if datatype == "Boolean":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"{raw!r} is not a Boolean: type true or false (or 1/0, on/off)")
    if datatype in _INT_RANGES:
        try:
            value = int(raw, 0)
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number ({datatype})") from None
        low, high = _INT_RANGES[datatype]
        if not low <= value <= high:
            raise ValueError(f"{value} does not fit {datatype} ({low}..{high})")
        return value
    if datatype in ("Float", "Double"):
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number ({datatype})") from None
        if not math.isfinite(number):
            raise ValueError(f"{raw!r}: write a finite number")
        return number
    if datatype in ("String", "Text", "UUID"):
        return text
    raise ValueError(f"writing {datatype} tags from the UI is not supported")
