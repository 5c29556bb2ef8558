"""The decoder's fast path (restricted schema + rare-field check) must give what the full schema gives.

``sparkplug._decode`` takes the fast path only when no metric carries a field outside the common shape
(flags, metadata, properties, DataSet, Template, extension). These payloads are written byte by byte so
that they contain what our encoder never writes: unknown fields, repeated scalars, fields of the wrong
wire type. The reference is the full schema decoded metric by metric.
"""

from __future__ import annotations

import pytest

from sparkplug import DataType, Metric, Payload, decode_payload, encode_payload
from sparkplug._decode import _scan_metrics, decode_metric, decode_payload_upb
from sparkplug._generated import sparkplug_b_pb2 as pb
from sparkplug.datatypes import Quality
from sparkplug.errors import SparkplugDecodeError
from sparkplug.model import DataSet, MetaData, PropertySet, Template, quality_property
from tests.sparkplug.speedups_support import field, metric, varint


def _full(data: bytes) -> tuple[Metric, ...]:
    return tuple(decode_metric(pm) for pm in pb.Payload.FromString(data).metrics)


ALIAS_1 = field(2, 0, varint(1))
INT32 = field(4, 0, varint(DataType.Int32))
VALUE_7 = field(10, 0, varint(7))


@pytest.mark.parametrize(
    ("extra", "rare"),
    [
        (b"", False),
        (field(5, 0, b"\x01"), True),  # is_historical
        (field(6, 0, b"\x00"), True),  # is_transient, even when false
        (field(7, 0, b"\x01"), True),  # is_null beside a value
        (field(8, 2, b""), True),  # empty metadata
        (field(9, 2, b""), True),  # empty properties
        (field(20, 0, b"\x05"), False),  # unknown field: both paths skip it
        # is_historical as length-delimited: unknown to the full schema, but the rare-field check reads it
        # as a packed list and so stays conservative (full path); never the other way round
        (field(5, 2, b"xy"), True),
        (field(2, 0, varint(9)), False),  # alias repeated: the last one wins on both paths
        (field(11, 0, varint(8)), False),  # a second value field: the oneof keeps the last
    ],
)
def test_fast_path_matches_full_schema(extra: bytes, rare: bool) -> None:
    first = metric(ALIAS_1, INT32, VALUE_7, extra)
    data = field(1, 0, varint(5)) + first + metric(ALIAS_1, INT32, VALUE_7)
    assert _scan_metrics(data) == (rare, False)
    try:
        expected: tuple[Metric, ...] | str = _full(data)
    except SparkplugDecodeError as exc:
        expected = str(exc)
    try:
        got: tuple[Metric, ...] | str = decode_payload_upb(data).metrics
    except SparkplugDecodeError as exc:
        got = str(exc)
    assert got == expected
    try:
        public: tuple[Metric, ...] | str = decode_payload(data).metrics
    except SparkplugDecodeError as exc:
        public = str(exc)
    assert public == expected


def test_rare_value_kinds_take_the_full_path() -> None:
    """DataSet, Template, metadata and properties metrics decode correctly among ordinary ones."""
    plain = Metric(name="a", alias=1, timestamp=2, datatype=DataType.Int8, value=-3)
    for extra in (
        Metric(name="ds", datatype=DataType.DataSet, value=DataSet(("c",), (DataType.Int32,), ((1,),))),
        Metric(name="t", datatype=DataType.Template, value=Template(template_ref="T", metrics=(plain,))),
        Metric(name="b", datatype=DataType.Bytes, value=b"\x00", metadata=MetaData(content_type="x")),
        Metric(
            name="q",
            datatype=DataType.Int32,
            value=1,
            properties=PropertySet((("Quality", quality_property(Quality.GOOD)),)),
        ),
    ):
        payload = Payload(timestamp=1, seq=2, metrics=(plain, extra, plain))
        data = encode_payload(payload)
        assert _scan_metrics(data) == (True, True)
        assert decode_payload_upb(data) == payload
        assert decode_payload(data) == payload


def test_rare_field_check_reports_garbage_as_decode_error() -> None:
    with pytest.raises(SparkplugDecodeError, match="not a Sparkplug B protobuf payload"):
        decode_payload_upb(field(2, 2, b"\x48"))  # a metric whose only byte is a truncated field 9 tag
    with pytest.raises(SparkplugDecodeError, match="not a Sparkplug B protobuf payload"):
        decode_payload(field(2, 2, b"\x48"))


@pytest.mark.parametrize(
    ("name_field", "named"),
    [
        (field(1, 2, b"Line/Tag"), True),  # one named metric among unnamed ones
        (field(1, 2, b""), True),  # an empty name on the wire still decodes as None
        (field(1, 0, b"\x01"), False),  # a varint in field 1: not a name to either schema
    ],
)
def test_names_are_read_only_when_present(name_field: bytes, named: bool) -> None:
    data = metric(ALIAS_1, INT32, VALUE_7) + metric(name_field, ALIAS_1, INT32, VALUE_7)
    assert _scan_metrics(data) == (False, named)
    assert decode_payload_upb(data).metrics == _full(data)
    assert decode_payload(data).metrics == _full(data)
