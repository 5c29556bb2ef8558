"""Decode register words into tag values and encode values into words: a pure core.

Every tag gets a decoder built once (:func:`make_decoder`), so a poll cycle does one
``struct.pack`` per block and one ``struct.unpack_from`` per tag. Byte orders: see
:class:`~drivers.modbus._spec.ByteOrder`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

from drivers._types import Value
from drivers.modbus._spec import ByteOrder, DataType, ModbusTag, integer_range

_FORMATS = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}

#: (raw block bytes big-endian per word, list of words, word offset) -> value
Decoder = Callable[[bytes, list[int], int], Value]


class EncodeError(ValueError):
    """A value cannot be written to a tag (wrong type, out of range, too long)."""


def _reorder(data: bytes, order: ByteOrder) -> bytes:
    """Turn device-order bytes into big-endian (ABCD) bytes; the transform is its own inverse."""
    if order.swap_bytes:
        swapped = bytearray(len(data))
        swapped[0::2] = data[1::2]
        swapped[1::2] = data[0::2]
        data = bytes(swapped)
    if order.swap_words and len(data) > 2:
        data = b"".join(data[i : i + 2] for i in range(len(data) - 2, -1, -2))
    return data


def make_decoder(tag: ModbusTag, order: ByteOrder) -> Decoder:
    """Build the function that extracts ``tag``'s engineering value from a block."""
    if tag.area.is_bit:
        raise ValueError("bit areas are decoded by the driver directly")
    if tag.data_type is DataType.BOOL:
        bit = tag.bit or 0

        def decode_bit(_raw: bytes, words: list[int], k: int) -> Value:
            return bool((words[k] >> bit) & 1)

        return decode_bit
    if tag.data_type is DataType.STRING:
        nbytes, length = tag.count * 2, tag.length

        def decode_string(raw: bytes, _words: list[int], k: int) -> Value:
            data = _reorder(
                raw[2 * k : 2 * k + nbytes], ByteOrder.BADC if order.swap_bytes else ByteOrder.ABCD
            )
            return data[:length].split(b"\x00", 1)[0].decode("latin-1")

        return decode_string
    fmt = _FORMATS[tag.data_type]
    scale, offset, scaled = tag.scale, tag.offset, tag.scaled
    size = struct.calcsize(fmt)
    if order is ByteOrder.ABCD or (size == 2 and not order.swap_bytes):
        unpack = struct.Struct(">" + fmt).unpack_from

        def raw_value(raw: bytes, k: int) -> float | int:
            v: float | int = unpack(raw, 2 * k)[0]
            return v
    elif order is ByteOrder.DCBA or size == 2:
        little = struct.Struct("<" + fmt).unpack_from

        def raw_value(raw: bytes, k: int) -> float | int:
            v: float | int = little(raw, 2 * k)[0]
            return v
    else:
        big = struct.Struct(">" + fmt).unpack

        def raw_value(raw: bytes, k: int) -> float | int:
            v: float | int = big(_reorder(raw[2 * k : 2 * k + size], order))[0]
            return v

    if not scaled:

        def decode(raw: bytes, _words: list[int], k: int) -> Value:
            return raw_value(raw, k)
    else:

        def decode(raw: bytes, _words: list[int], k: int) -> Value:
            return raw_value(raw, k) * scale + offset

    return decode


def decode_tag(tag: ModbusTag, order: ByteOrder, words: list[int]) -> Value:
    """Decode one tag from exactly its own words (convenience for writes' read-back and tests)."""
    raw = struct.pack(f">{len(words)}H", *words)
    return make_decoder(tag, order)(raw, words, 0)


def encode_tag(tag: ModbusTag, order: ByteOrder, value: Value) -> list[int]:
    """Encode an engineering value into the tag's words (not for bit areas or bit-in-register).

    Raises:
        EncodeError: wrong type, out of the tag's range or the type's range, string too long.
    """
    if tag.data_type is DataType.STRING:
        if not isinstance(value, str):
            raise EncodeError(f"expected a string, got {type(value).__name__}")
        try:
            data = value.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise EncodeError("the string has characters outside Latin-1") from exc
        if len(data) > tag.length:
            raise EncodeError(f"{len(data)} characters, the tag holds at most {tag.length}")
        data = data.ljust(tag.count * 2, b"\x00")
        data = _reorder(data, ByteOrder.BADC if order.swap_bytes else ByteOrder.ABCD)
        return list(struct.unpack(f">{tag.count}H", data))
    if tag.data_type is DataType.BOOL:
        raise EncodeError("bits are encoded by the driver (read-modify-write)")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EncodeError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value) and tag.data_type not in (DataType.FLOAT32, DataType.FLOAT64):
        raise EncodeError(f"{value} cannot be written to an integer tag")
    check_range(tag, value)
    raw: float | int = (value - tag.offset) / tag.scale if tag.scaled else value
    fmt = _FORMATS[tag.data_type]
    limits = integer_range(tag.data_type)
    if limits is not None:
        if isinstance(raw, float):
            if not raw.is_integer() and not tag.scaled:
                raise EncodeError(f"{value} is not an integer; the tag is {tag.data_type.value}")
            raw = round(raw)
        low, high = limits
        if not low <= raw <= high:
            raise EncodeError(
                f"{value} is outside the {tag.data_type.value} range {low}..{high} (after scaling)"
            )
    elif tag.data_type is DataType.FLOAT32 and math.isfinite(raw) and abs(raw) > 3.4028234663852886e38:
        raise EncodeError(f"{value} is outside the float32 range")
    data = (
        _reorder(struct.pack(">" + fmt, raw), order)
        if struct.calcsize(fmt) > 2
        else _reorder(struct.pack(">" + fmt, raw), ByteOrder.BADC if order.swap_bytes else ByteOrder.ABCD)
    )
    return list(struct.unpack(f">{len(data) // 2}H", data))


def check_range(tag: ModbusTag, value: float | int) -> None:
    if tag.min_value is not None and value < tag.min_value:
        raise EncodeError(f"{value} is below the tag's minimum {tag.min_value}")
    if tag.max_value is not None and value > tag.max_value:
        raise EncodeError(f"{value} is above the tag's maximum {tag.max_value}")
