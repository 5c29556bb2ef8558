"""Packing of the array DataTypes (22..34) into ``bytes_value``, exactly as the digest's §15 says.

- Fixed-width types: little-endian elements, concatenated, no length prefix.
- BooleanArray: a 4-byte little-endian uint32 element count, then the bits packed MSB-first (element 0
  is bit 7, 0x80, of the first byte), the last byte padded with zeros.
- StringArray: each string as UTF-8 followed by one NUL byte.

Tahu Python's array_packer (LSB-first booleans, hex-text strings) is wrong and is not followed (§15).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from sparkplug.datatypes import DataType
from sparkplug.errors import SparkplugDecodeError, SparkplugEncodeError

# (struct code, element width) of the fixed-width array types.
_FIXED: dict[DataType, tuple[str, int]] = {
    DataType.Int8Array: ("b", 1),
    DataType.Int16Array: ("h", 2),
    DataType.Int32Array: ("i", 4),
    DataType.Int64Array: ("q", 8),
    DataType.UInt8Array: ("B", 1),
    DataType.UInt16Array: ("H", 2),
    DataType.UInt32Array: ("I", 4),
    DataType.UInt64Array: ("Q", 8),
    DataType.FloatArray: ("f", 4),
    DataType.DoubleArray: ("d", 8),
    DataType.DateTimeArray: ("Q", 8),
}
_FLOAT_ARRAYS = frozenset({DataType.FloatArray, DataType.DoubleArray})


def pack_array(datatype: DataType, values: Sequence[Any]) -> bytes:
    """Pack ``values`` for ``datatype``; raises :class:`SparkplugEncodeError` on a bad element."""
    fixed = _FIXED.get(datatype)
    if fixed is not None:
        code = fixed[0]
        if datatype not in _FLOAT_ARRAYS:
            for item in values:
                if type(item) is bool or not isinstance(item, int):
                    raise SparkplugEncodeError(
                        f"{datatype.name} element {item!r} is a {type(item).__name__}, expected int"
                    )
        else:
            for item in values:
                if type(item) is bool or not isinstance(item, (int, float)):
                    raise SparkplugEncodeError(
                        f"{datatype.name} element {item!r} is a {type(item).__name__}, expected float"
                    )
        try:
            return struct.pack(f"<{len(values)}{code}", *values)
        except (struct.error, OverflowError) as exc:
            raise SparkplugEncodeError(f"{datatype.name} element out of range: {exc}") from None
    if datatype is DataType.BooleanArray:
        return _pack_booleans(values)
    if datatype is DataType.StringArray:
        return _pack_strings(values)
    raise SparkplugEncodeError(f"{datatype!r} is not an array type")


def unpack_array(datatype: DataType, data: bytes) -> tuple[Any, ...]:
    """Unpack ``data`` for ``datatype``; raises :class:`SparkplugDecodeError` on a malformed buffer."""
    fixed = _FIXED.get(datatype)
    if fixed is not None:
        code, width = fixed
        count, rest = divmod(len(data), width)
        if rest:
            raise SparkplugDecodeError(
                f"{datatype.name} of {len(data)} bytes is not a whole number of {width}-byte elements"
            )
        return struct.unpack(f"<{count}{code}", data)
    if datatype is DataType.BooleanArray:
        return _unpack_booleans(data)
    if datatype is DataType.StringArray:
        return _unpack_strings(data)
    raise SparkplugDecodeError(f"{datatype!r} is not an array type")


def _pack_booleans(values: Sequence[Any]) -> bytes:
    out = bytearray(struct.pack("<I", len(values)))
    out.extend(bytes((len(values) + 7) // 8))
    for index, item in enumerate(values):
        if type(item) is not bool:
            kind = type(item).__name__
            raise SparkplugEncodeError(f"BooleanArray element {item!r} is a {kind}, expected bool")
        if item:
            out[4 + index // 8] |= 0x80 >> (index % 8)
    return bytes(out)


def _unpack_booleans(data: bytes) -> tuple[bool, ...]:
    if len(data) < 4:
        raise SparkplugDecodeError(f"BooleanArray of {len(data)} bytes has no 4-byte element count")
    (count,) = struct.unpack_from("<I", data)
    needed = (count + 7) // 8
    if len(data) - 4 != needed:
        raise SparkplugDecodeError(
            f"BooleanArray declares {count} elements ({needed} bytes of bits) but carries {len(data) - 4}"
        )
    return tuple(bool(data[4 + i // 8] & (0x80 >> (i % 8))) for i in range(count))


def _pack_strings(values: Sequence[Any]) -> bytes:
    parts = []
    for item in values:
        if not isinstance(item, str):
            kind = type(item).__name__
            raise SparkplugEncodeError(f"StringArray element {item!r} is a {kind}, expected str")
        if "\x00" in item:
            raise SparkplugEncodeError(f"StringArray element {item!r} contains NUL, the element terminator")
        try:
            parts.append(item.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise SparkplugEncodeError(f"StringArray element {item!r} is not valid UTF-8: {exc}") from None
        parts.append(b"\x00")
    return b"".join(parts)


def _unpack_strings(data: bytes) -> tuple[str, ...]:
    if not data:
        return ()
    if not data.endswith(b"\x00"):
        raise SparkplugDecodeError("StringArray does not end with the NUL terminator of its last element")
    try:
        return tuple(part.decode("utf-8") for part in data[:-1].split(b"\x00"))
    except UnicodeDecodeError as exc:
        raise SparkplugDecodeError(f"StringArray element is not valid UTF-8: {exc}") from None
