"""Conversions between asyncua values and ours: DataValue -> Sample, Python value -> typed Variant."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from drivers._types import Quality, Sample, Value, utc_ms
from drivers.errors import DeviceError, ErrorKind
from drivers.opcua._spec import OpcUaTag

_INT_RANGES = {
    "SByte": (-(2**7), 2**7 - 1),
    "Byte": (0, 2**8 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "UInt16": (0, 2**16 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt32": (0, 2**32 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt64": (0, 2**64 - 1),
}


_SCALARS = frozenset({float, int, bool, str, bytes, type(None)})  # passed through by plain()
_SEVERITY_MASK = 0b11 << 30


def quality_of(status: int) -> Quality:
    """A StatusCode's quality from its severity bits (OPC 10000-4, 7.39: 00 Good, 01 Uncertain, 1x Bad)."""
    severity = (status >> 30) & 0b11
    if severity == 0:
        return Quality.GOOD
    if severity == 1:
        return Quality.UNCERTAIN
    return Quality.BAD


def to_ms(stamp: dt.datetime | None) -> int | None:
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return int(stamp.timestamp() * 1000)


def plain(value: Any) -> Value:
    """An asyncua Variant payload as one of our value types."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, dt.datetime):
        return to_ms(value)
    if isinstance(value, list):
        items: Any = [plain(v) for v in value]
        return items  # type: ignore[no-any-return]
    text = getattr(value, "Text", None)  # LocalizedText
    if isinstance(text, str):
        return text
    return str(value)


def sample_from(tag: OpcUaTag, device: str, data_value: Any) -> Sample:
    """A sample from a DataValue, keeping the source timestamp (server timestamp, then now, as fallbacks).

    Called once per notification (10,000 times a second with 1,000 items at 0.1 s), so the common
    case (a Good scalar) avoids the general conversions.
    """
    code = data_value.StatusCode
    status = int(code.value) if code is not None else 0
    stamp = data_value.SourceTimestamp or data_value.ServerTimestamp
    ts = to_ms(stamp)
    if ts is None:
        ts = utc_ms()
    variant = data_value.Value
    raw = variant.Value if variant is not None else None
    value = raw if type(raw) in _SCALARS else plain(raw)
    if status & _SEVERITY_MASK == 0:  # Good (OPC 10000-4, 7.39)
        return Sample(tag.name, value, Quality.GOOD, ts, None, tag.unit)
    quality = quality_of(status)
    error = DeviceError(
        device,
        ErrorKind.EXCEPTION,
        f"status {code.name}",
        address=tag.address,
        code=status,
    )
    if quality is Quality.BAD:
        value = None
    return Sample(tag.name, value, quality, ts, error, tag.unit)


def check_write_value(type_name: str, value: Value) -> Any:
    """Validate ``value`` for a node of data type ``type_name``; return the Python value to send.

    Raises:
        ValueError: with a readable reason.
    """
    if type_name == "Boolean":
        if not isinstance(value, bool):
            raise ValueError(f"expected a bool for a Boolean node, got {value!r}")
        return value
    if type_name in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected an integer for a {type_name} node, got {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{value} is not an integer; the node is {type_name}")
            value = int(value)
        low, high = _INT_RANGES[type_name]
        if not low <= value <= high:
            raise ValueError(f"{value} is outside the {type_name} range {low}..{high}")
        return value
    if type_name in ("Float", "Double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number for a {type_name} node, got {value!r}")
        if type_name == "Float" and math.isfinite(value) and abs(value) > 3.4028234663852886e38:
            raise ValueError(f"{value} is outside the Float range")
        return float(value)
    if type_name == "String":
        if not isinstance(value, str):
            raise ValueError(f"expected a string for a String node, got {value!r}")
        return value
    if type_name == "ByteString":
        if not isinstance(value, bytes):
            raise ValueError(f"expected bytes for a ByteString node, got {value!r}")
        return value
    raise ValueError(f"writing {type_name} nodes is not supported")
