"""Register codec: known vectors for every byte order, round trips, and refusals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus import Area, ByteOrder, DataType, EncodeError, ModbusTag, decode_tag, encode_tag

HR = Area.HOLDING_REGISTER


def tag(dt: DataType, **kw: object) -> ModbusTag:
    return ModbusTag("t", HR, 0, dt, **kw)  # type: ignore[arg-type]


# float32 1.0 = 0x3F800000 (A=3F B=80 C=00 D=00)
@pytest.mark.parametrize(
    ("order", "words"),
    [
        (ByteOrder.ABCD, [0x3F80, 0x0000]),
        (ByteOrder.CDAB, [0x0000, 0x3F80]),
        (ByteOrder.BADC, [0x803F, 0x0000]),
        (ByteOrder.DCBA, [0x0000, 0x803F]),
    ],
)
def test_float32_known_vectors(order: ByteOrder, words: list[int]) -> None:
    assert decode_tag(tag(DataType.FLOAT32), order, words) == 1.0
    assert encode_tag(tag(DataType.FLOAT32), order, 1.0) == words


# uint64 0x0102030405060708: ABCDEFGH = 0102 0304 0506 0708
@pytest.mark.parametrize(
    ("order", "words"),
    [
        (ByteOrder.ABCD, [0x0102, 0x0304, 0x0506, 0x0708]),
        (ByteOrder.CDAB, [0x0708, 0x0506, 0x0304, 0x0102]),  # GHEFCDAB
        (ByteOrder.BADC, [0x0201, 0x0403, 0x0605, 0x0807]),  # BADCFEHG
        (ByteOrder.DCBA, [0x0807, 0x0605, 0x0403, 0x0201]),  # HGFEDCBA
    ],
)
def test_uint64_known_vectors(order: ByteOrder, words: list[int]) -> None:
    assert decode_tag(tag(DataType.UINT64), order, words) == 0x0102030405060708
    assert encode_tag(tag(DataType.UINT64), order, 0x0102030405060708) == words


def test_eight_letter_aliases() -> None:
    assert ByteOrder.parse("ghefcdab") is ByteOrder.CDAB
    assert ByteOrder.parse("HGFEDCBA") is ByteOrder.DCBA
    with pytest.raises(ValueError):
        ByteOrder.parse("ABDC")


def test_int16_and_swapped_int16() -> None:
    assert decode_tag(tag(DataType.INT16), ByteOrder.ABCD, [0xFFFE]) == -2
    assert decode_tag(tag(DataType.INT16), ByteOrder.DCBA, [0xFEFF]) == -2
    assert decode_tag(tag(DataType.UINT16), ByteOrder.CDAB, [0xFFFE]) == 0xFFFE


def test_bit_in_register() -> None:
    t = ModbusTag("b", HR, 0, DataType.BOOL, bit=3)
    assert decode_tag(t, ByteOrder.ABCD, [0b1000]) is True
    assert decode_tag(t, ByteOrder.ABCD, [0b0111]) is False


def test_string_fixed_length_and_swapped() -> None:
    t = tag(DataType.STRING, length=5)
    words = encode_tag(t, ByteOrder.ABCD, "ABC")
    assert words == [0x4142, 0x4300, 0x0000]
    assert decode_tag(t, ByteOrder.ABCD, words) == "ABC"
    swapped = encode_tag(t, ByteOrder.BADC, "ABC")
    assert swapped == [0x4241, 0x0043, 0x0000]
    assert decode_tag(t, ByteOrder.BADC, swapped) == "ABC"
    with pytest.raises(EncodeError, match="at most 5"):
        encode_tag(t, ByteOrder.ABCD, "TOOLONG")
    with pytest.raises(EncodeError, match="string"):
        encode_tag(t, ByteOrder.ABCD, 5)


def test_scale_offset_applied_on_read_and_reversed_on_write() -> None:
    t = tag(DataType.INT16, scale=0.1, offset=-40.0)
    assert decode_tag(t, ByteOrder.ABCD, [650]) == pytest.approx(25.0)
    assert encode_tag(t, ByteOrder.ABCD, 25.0) == [650]


@pytest.mark.parametrize(
    ("dt", "value", "message"),
    [
        (DataType.UINT16, 70000, "range"),
        (DataType.UINT16, -1, "range"),
        (DataType.INT32, 2**31, "range"),
        (DataType.INT16, 1.5, "not an integer"),
        (DataType.INT16, True, "number"),
        (DataType.INT16, "7", "number"),
        (DataType.INT16, math.inf, "integer tag"),
        (DataType.FLOAT32, 1e39, "float32"),
    ],
)
def test_encode_refuses_bad_values(dt: DataType, value: object, message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        encode_tag(tag(dt), ByteOrder.ABCD, value)  # type: ignore[arg-type]


def test_engineering_range_checked_on_write() -> None:
    t = tag(DataType.FLOAT32, min_value=0.0, max_value=90.0)
    with pytest.raises(EncodeError, match="maximum 90"):
        encode_tag(t, ByteOrder.ABCD, 91.0)
    with pytest.raises(EncodeError, match="minimum 0"):
        encode_tag(t, ByteOrder.ABCD, -1.0)


INT_TYPES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


@given(st.sampled_from(list(INT_TYPES)), st.sampled_from(list(ByteOrder)), st.data())
def test_integer_round_trip(dt: DataType, order: ByteOrder, data: st.DataObject) -> None:
    lo, hi = INT_TYPES[dt]
    value = data.draw(st.integers(lo, hi))
    words = encode_tag(tag(dt), order, value)
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode_tag(tag(dt), order, words) == value


@given(st.sampled_from(list(ByteOrder)), st.floats(allow_nan=False, width=32))
def test_float32_round_trip(order: ByteOrder, value: float) -> None:
    assert decode_tag(tag(DataType.FLOAT32), order, encode_tag(tag(DataType.FLOAT32), order, value)) == value


@given(st.sampled_from(list(ByteOrder)), st.floats(allow_nan=False))
def test_float64_round_trip(order: ByteOrder, value: float) -> None:
    assert decode_tag(tag(DataType.FLOAT64), order, encode_tag(tag(DataType.FLOAT64), order, value)) == value


@given(
    st.sampled_from(list(ByteOrder)), st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=9)
)
def test_string_round_trip(order: ByteOrder, text: str) -> None:
    t = tag(DataType.STRING, length=9)
    assert decode_tag(t, order, encode_tag(t, order, text)) == text
