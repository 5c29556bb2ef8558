"""Codec: exact bytes from the digest (§13, §15), two's-complement rules, refusals, tolerated variants."""

from __future__ import annotations

import math

import pytest

from sparkplug import (
    DataSet,
    DataType,
    MetaData,
    Metric,
    Payload,
    PropertySet,
    PropertyValue,
    Quality,
    SparkplugDecodeError,
    SparkplugEncodeError,
    Template,
    TemplateParameter,
    decode_payload,
    encode_payload,
    engineering_units,
    quality_property,
    retype,
)
from sparkplug._decode import decode_payload_upb
from sparkplug._generated import sparkplug_b_pb2 as pb


def roundtrip(metric: Metric, **options: bool) -> Metric:
    return decode_payload(encode_payload(Payload(timestamp=1, metrics=(metric,), seq=0), **options)).metrics[
        0
    ]


def wire_metric(metric: Metric, **options: bool) -> pb.Payload.Metric:
    return pb.Payload.FromString(encode_payload(Payload(metrics=(metric,)), **options)).metrics[0]


# --------------------------------------------------------------------------- §15 array packing, exact bytes

ARRAY_EXAMPLES = [
    (DataType.Int8Array, (-23, 123), "e97b"),
    (DataType.Int16Array, (-30000, 30000), "d08a3075"),
    (DataType.Int32Array, (-1, 315338746), "fffffffffaafcb12"),
    (DataType.UInt32Array, (52, 3293969225), "3400000049fb55c4"),
    (DataType.FloatArray, (1.2300000190734863, 89.34100341796875), "a4709d3f98aeb242"),
    (DataType.DateTimeArray, (1256102875335, 1656107875000), "c7d090752401000" + "0b8bab89781010000"),
    (
        DataType.BooleanArray,
        (False, False, True, True, False, True, False, False, True, True, False, True),
        "0c00000034d0",
    ),
    (DataType.StringArray, ("ABC", "hello"), "41424300" + "68656c6c6f00"),
]


@pytest.mark.parametrize(
    ("datatype", "values", "hexbytes"), ARRAY_EXAMPLES, ids=[e[0].name for e in ARRAY_EXAMPLES]
)
def test_array_packing_matches_digest_examples(
    datatype: DataType, values: tuple[object, ...], hexbytes: str
) -> None:
    metric = Metric(name="a", datatype=datatype, value=values)  # type: ignore[arg-type]
    assert wire_metric(metric).bytes_value.hex() == hexbytes
    assert roundtrip(metric).value == values


def test_double_array_is_little_endian() -> None:
    assert wire_metric(
        Metric(name="d", datatype=DataType.DoubleArray, value=(12.354213,))
    ).bytes_value.hex() == ("d7a205685bb52840")


@pytest.mark.parametrize(
    ("datatype", "bad", "message"),
    [
        (DataType.Int8Array, (128,), "out of range"),
        (DataType.UInt16Array, (-1,), "out of range"),
        (DataType.BooleanArray, (1,), "expected bool"),
        (DataType.StringArray, ("a\x00b",), "NUL"),
        (DataType.Int32Array, (1.5,), "expected int"),
        (DataType.FloatArray, ("x",), "expected float"),
        (DataType.Int64Array, "notatuple", "expected tuple"),
    ],
)
def test_bad_array_elements_are_refused(datatype: DataType, bad: object, message: str) -> None:
    with pytest.raises(SparkplugEncodeError, match=message):
        encode_payload(Payload(metrics=(Metric(name="arr", datatype=datatype, value=bad),)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("datatype", "raw", "message"),
    [
        (DataType.Int32Array, b"\x01\x02\x03", "whole number"),
        (DataType.BooleanArray, b"\x01\x00", "no 4-byte element count"),
        (DataType.BooleanArray, b"\x09\x00\x00\x00\xff", "declares 9 elements"),
        (DataType.StringArray, b"abc", "NUL terminator"),
        (DataType.StringArray, b"\xff\x00", "UTF-8"),
    ],
)
def test_malformed_arrays_raise_decode_error(datatype: DataType, raw: bytes, message: str) -> None:
    data = pb.Payload(
        metrics=[pb.Payload.Metric(name="a", datatype=datatype, bytes_value=raw)]
    ).SerializeToString()
    with pytest.raises(SparkplugDecodeError, match=message):
        decode_payload(data)


# --------------------------------------------------------------------------- §13 integers


@pytest.mark.parametrize(
    ("datatype", "value", "field", "raw"),
    [
        (DataType.Int8, -1, "int_value", 0xFFFFFFFF),  # sign-extended to 32 bits, like Tahu Java
        (DataType.Int8, -23, "int_value", 4294967273),
        (DataType.Int16, -30000, "int_value", 4294937296),
        (DataType.Int32, -2147483648, "int_value", 0x80000000),
        (DataType.Int64, -1, "long_value", 0xFFFFFFFFFFFFFFFF),
        (DataType.UInt8, 255, "int_value", 255),
        (DataType.UInt16, 65535, "int_value", 65535),
        (DataType.UInt32, 4294967295, "int_value", 4294967295),
        (DataType.UInt64, 2**64 - 1, "long_value", 2**64 - 1),
        (DataType.DateTime, 1656107875000, "long_value", 1656107875000),
    ],
)
def test_integer_wire_encoding(datatype: DataType, value: int, field: str, raw: int) -> None:
    wire = wire_metric(Metric(name="i", datatype=datatype, value=value))
    assert wire.WhichOneof("value") == field
    assert getattr(wire, field) == raw
    assert roundtrip(Metric(name="i", datatype=datatype, value=value)).value == value


@pytest.mark.parametrize(
    ("datatype", "raw", "expected"),
    [
        (DataType.Int8, 255, -1),  # Tahu Python style: masked to the type's width
        (DataType.Int8, 0xFFFFFFFF, -1),  # Java style: sign-extended to 32 bits
        (DataType.Int16, 4294967209, -87),  # pysparkplug #26 / tahu #71: must not raise "overflow"
        (DataType.Int16, 0xFFA9, -87),
        (DataType.Int32, 0xFFFFFFFF, -1),
    ],
)
def test_signed_decoding_masks_then_sign_extends(datatype: DataType, raw: int, expected: int) -> None:
    data = pb.Payload(
        metrics=[pb.Payload.Metric(name="s", datatype=datatype, int_value=raw)]
    ).SerializeToString()
    assert decode_payload(data).metrics[0].value == expected


def test_uint32_is_read_from_long_value_too() -> None:
    """Tahu Java/JS and Ignition write UInt32 in long_value (sparkplug #102, digest §19.8)."""
    data = pb.Payload(
        metrics=[pb.Payload.Metric(name="u", datatype=DataType.UInt32, long_value=3293969225)]
    ).SerializeToString()
    assert decode_payload(data).metrics[0].value == 3293969225


def test_uint32_in_long_value_option() -> None:
    metric = Metric(name="u", datatype=DataType.UInt32, value=7)
    assert wire_metric(metric).WhichOneof("value") == "int_value"
    assert wire_metric(metric, uint32_in_long_value=True).WhichOneof("value") == "long_value"
    assert roundtrip(metric, uint32_in_long_value=True).value == 7


def test_uint32_too_big_in_long_value_is_refused() -> None:
    data = pb.Payload(metrics=[pb.Payload.Metric(name="u", datatype=7, long_value=2**32)]).SerializeToString()
    with pytest.raises(SparkplugDecodeError, match="does not fit in 32 bits"):
        decode_payload(data)


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        (DataType.Int8, 128),
        (DataType.Int8, -129),
        (DataType.Int16, 32768),
        (DataType.Int32, 2**31),
        (DataType.Int64, 2**63),
        (DataType.UInt8, 256),
        (DataType.UInt8, -1),
        (DataType.UInt16, 65536),
        (DataType.UInt32, 2**32),
        (DataType.UInt64, 2**64),
        (DataType.UInt64, -1),
        (DataType.DateTime, -1),
    ],
)
def test_out_of_range_integers_are_refused_not_wrapped(datatype: DataType, value: int) -> None:
    with pytest.raises(SparkplugEncodeError, match=r"metric 'big'.*out of range"):
        encode_payload(Payload(metrics=(Metric(name="big", datatype=datatype, value=value),)))


@pytest.mark.parametrize(
    ("datatype", "value", "message"),
    [
        (DataType.Int32, True, "expected int"),
        (DataType.Int32, 1.5, "expected int"),
        (DataType.Boolean, 1, "expected bool"),
        (DataType.String, b"x", "expected str"),
        (DataType.Bytes, "x", "expected bytes"),
        (DataType.Double, "1.0", "expected float"),
        (DataType.Float, 1e39, "float32 range"),
        (DataType.DataSet, "x", "expected DataSet"),
        (DataType.Template, 1, "expected Template"),
        (DataType.Unknown, 1, "not a metric datatype"),
        (DataType.PropertySet, 1, "not a metric datatype"),
    ],
)
def test_wrong_python_types_are_refused(datatype: DataType, value: object, message: str) -> None:
    with pytest.raises(SparkplugEncodeError, match=message):
        encode_payload(Payload(metrics=(Metric(name="m", datatype=datatype, value=value),)))  # type: ignore[arg-type]


def test_bad_header_and_alias_are_refused_with_location() -> None:
    with pytest.raises(SparkplugEncodeError, match="metric 'a' cannot be encoded"):
        encode_payload(Payload(metrics=(Metric(name="a", alias=-1, datatype=DataType.Int8, value=1),)))
    with pytest.raises(SparkplugEncodeError, match="payload header"):
        encode_payload(Payload(seq=-1))
    with pytest.raises(SparkplugEncodeError, match="must not be empty"):
        encode_payload(Payload(metrics=(Metric(name="", datatype=DataType.Int8, value=1),)))
    with pytest.raises(SparkplugEncodeError, match="surrogates"):
        encode_payload(Payload(metrics=(Metric(name="s", datatype=DataType.String, value="\ud800"),)))


def test_float_is_32_bit_and_specials_survive() -> None:
    assert roundtrip(Metric(name="f", datatype=DataType.Float, value=1.23)).value == pytest.approx(
        1.23, rel=1e-7
    )
    assert roundtrip(Metric(name="f", datatype=DataType.Float, value=math.inf)).value == math.inf
    assert math.isnan(roundtrip(Metric(name="f", datatype=DataType.Double, value=math.nan)).value)  # type: ignore[arg-type]


# ---------------- null, flags, properties, complex types


def test_null_value_sets_is_null_and_no_value_field() -> None:
    metric = Metric(name="n", timestamp=5, datatype=DataType.Int32)
    assert metric.is_null
    wire = wire_metric(metric)
    assert wire.is_null and wire.WhichOneof("value") is None
    assert roundtrip(metric) == metric
    with pytest.raises(SparkplugEncodeError, match="is_null=True and a value"):
        Metric(name="n", datatype=DataType.Int32, value=1, is_null=True)


def test_flags_metadata_and_properties_roundtrip() -> None:
    props = engineering_units("degC", -40.0, 125.0).with_property("Quality", quality_property(Quality.STALE))
    nested = PropertySet(
        (
            (
                "inner",
                PropertyValue(
                    DataType.PropertySet, PropertySet((("k", PropertyValue(DataType.Boolean, True)),))
                ),
            ),
        )
    )
    props = props.with_property("nested", PropertyValue(DataType.PropertySet, nested))
    props = props.with_property("list", PropertyValue(DataType.PropertySetList, (nested, PropertySet())))
    props = props.with_property("nothing", PropertyValue(DataType.String, None))
    metric = Metric(
        name="file",
        alias=9,
        timestamp=1,
        datatype=DataType.File,
        value=b"\x00\x01",
        is_historical=True,
        is_transient=True,
        properties=props,
        metadata=MetaData(
            is_multi_part=False, content_type="application/octet-stream", size=2, md5="ab", file_name="f.bin"
        ),
    )
    back = roundtrip(metric)
    assert back == metric
    assert back.properties is not None and back.properties.quality is Quality.STALE


def test_quality_property_is_int32_in_int_value() -> None:
    """payloads-propertyset-quality-value-type / -value: type 3 (Int32), 0/192/500."""
    metric = Metric(
        name="q",
        datatype=DataType.Int8,
        value=1,
        properties=PropertySet((("Quality", quality_property(Quality.BAD)),)),
    )
    wire = wire_metric(metric)
    assert list(wire.properties.keys) == ["Quality"]
    assert wire.properties.values[0].type == 3
    assert wire.properties.values[0].WhichOneof("value") == "int_value"
    assert wire.properties.values[0].int_value == 0


def test_dataset_roundtrip_and_validation() -> None:
    dataset = DataSet(
        columns=("a", "b", "c"),
        types=(DataType.Int16, DataType.String, DataType.Double),
        rows=((-5, "x", 1.5), (7, None, -0.25)),
    )
    assert roundtrip(Metric(name="ds", datatype=DataType.DataSet, value=dataset)).value == dataset
    with pytest.raises(SparkplugEncodeError, match="2 columns but 1 types"):
        encode_payload(
            Payload(
                metrics=(
                    Metric(name="ds", datatype=DataType.DataSet, value=DataSet(("a", "b"), (DataType.Int8,))),
                )
            )
        )
    with pytest.raises(SparkplugEncodeError, match="row 0 has 1 cells"):
        encode_payload(
            Payload(
                metrics=(
                    Metric(
                        name="ds",
                        datatype=DataType.DataSet,
                        value=DataSet(("a", "b"), (DataType.Int8, DataType.Int8), ((1,),)),
                    ),
                )
            )
        )
    with pytest.raises(SparkplugEncodeError, match="not a basic type"):
        encode_payload(
            Payload(
                metrics=(
                    Metric(name="ds", datatype=DataType.DataSet, value=DataSet(("a",), (DataType.Bytes,))),
                )
            )
        )
    bad = pb.Payload.DataSet(num_of_columns=3, columns=["a"], types=[3])
    data = pb.Payload(
        metrics=[pb.Payload.Metric(name="ds", datatype=16, dataset_value=bad)]
    ).SerializeToString()
    with pytest.raises(SparkplugDecodeError, match="DataSet declares 3 columns"):
        decode_payload(data)


def test_template_definition_and_instance_roundtrip() -> None:
    definition = Template(
        metrics=(Metric(name="speed", datatype=DataType.Int32, value=0),),
        parameters=(
            TemplateParameter("max", DataType.Int32, -100),
            TemplateParameter("unit", DataType.String, None),
        ),
        version="1.0",
        is_definition=True,
    )
    instance = Template(
        metrics=(Metric(name="speed", datatype=DataType.Int32, value=42),), template_ref="Motor"
    )
    for template in (definition, instance):
        assert roundtrip(Metric(name="Motor", datatype=DataType.Template, value=template)).value == template


def test_payload_header_fields_roundtrip() -> None:
    payload = Payload(timestamp=0, metrics=(), seq=0, uuid="u-1", body=b"raw")
    assert decode_payload(encode_payload(payload)) == payload
    assert decode_payload(encode_payload(Payload())) == Payload()


# ---------------- decode errors and DATA without datatype


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (
            pb.Payload.Metric(name="m", datatype=3, string_value="x"),
            "Int32 cannot carry its value in string_value",
        ),
        (pb.Payload.Metric(name="m", datatype=99, int_value=1), "unknown datatype code 99"),
        (pb.Payload.Metric(name="m", datatype=20, int_value=1), "not a valid metric datatype"),
        (pb.Payload.Metric(name="m", datatype=5, int_value=256), "does not fit in 8 bits"),
    ],
)
def test_inconsistent_metrics_raise_decode_error(message: pb.Payload.Metric, match: str) -> None:
    with pytest.raises(SparkplugDecodeError, match=match):
        decode_payload(pb.Payload(metrics=[message]).SerializeToString())


def test_garbage_raises_decode_error() -> None:
    with pytest.raises(SparkplugDecodeError, match="not a Sparkplug B protobuf"):
        decode_payload(b"\xff\xff\xff")


def test_data_metric_without_datatype_decodes_raw_then_retypes() -> None:
    metric = Metric(alias=4, timestamp=9, datatype=DataType.Int16, value=-87)
    raw = decode_payload(encode_payload(Payload(metrics=(metric,)), include_datatype=False)).metrics[0]
    assert raw.datatype is DataType.Unknown
    assert raw.value == 4294967209
    assert retype(raw, DataType.Int16) == metric
    arr = Metric(alias=1, datatype=DataType.BooleanArray, value=(True, False))
    raw_arr = decode_payload(encode_payload(Payload(metrics=(arr,)), include_datatype=False)).metrics[0]
    assert retype(raw_arr, DataType.BooleanArray).value == (True, False)
    flt = Metric(alias=2, datatype=DataType.Float, value=0.5)
    raw_flt = decode_payload(encode_payload(Payload(metrics=(flt,)), include_datatype=False)).metrics[0]
    assert retype(raw_flt, DataType.Float).value == 0.5
    with pytest.raises(SparkplugDecodeError, match="cannot carry"):
        retype(raw_flt, DataType.Int32)
    with pytest.raises(SparkplugDecodeError, match="declared Float"):
        retype(retype(raw_flt, DataType.Float), DataType.Double)


def test_decoded_metrics_are_ordinary_frozen_metrics() -> None:
    """The decoder's fast constructor (sparkplug._metric_factory) yields real frozen Metric objects."""
    import dataclasses

    original = Metric(alias=3, timestamp=9, datatype=DataType.Int32, value=-5)
    decoded = decode_payload(encode_payload(Payload(metrics=(original,)))).metrics[0]
    assert type(decoded) is Metric
    assert decoded == original and hash(decoded) == hash(original)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.value = 1  # type: ignore[misc]


def test_fast_and_full_decoding_paths_agree() -> None:
    """Ordinary metrics take the fast path; a flag, a null or a property anywhere sends the whole payload
    through the full schema. Both must give the same metrics."""
    plain = [Metric(alias=n, timestamp=n, datatype=DataType.Int16, value=-n) for n in range(5)]
    plain.append(Metric(alias=9, timestamp=0, datatype=DataType.UInt32, value=0))
    for extra in (
        Metric(alias=10, datatype=DataType.Boolean, value=False, is_historical=True),
        Metric(alias=11, datatype=DataType.Double),
        Metric(alias=12, datatype=DataType.Float, value=1.0, properties=PropertySet()),
    ):
        payload = Payload(timestamp=1, seq=3, metrics=(*plain, extra))
        assert decode_payload(encode_payload(payload)) == payload
        assert decode_payload_upb(encode_payload(payload)) == payload
    only_plain = Payload(timestamp=1, seq=3, metrics=tuple(plain))
    for decode in (decode_payload, decode_payload_upb):  # with and without the C accelerator
        assert decode(encode_payload(only_plain)) == only_plain
        assert decode(encode_payload(only_plain, uint32_in_long_value=True)) == only_plain
