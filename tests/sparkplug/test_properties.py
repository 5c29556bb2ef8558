"""Hypothesis properties: every DataType and whole payloads round-trip; any bytes decode or raise ours."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkplug import DataType, Metric, Payload, SparkplugDecodeError, decode_payload, encode_payload, retype
from sparkplug._generated import sparkplug_b_pb2 as pb
from tests.sparkplug.strategies import METRIC_TYPES, metrics, payloads

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def roundtrip(payload: Payload, **options: bool) -> Payload:
    return decode_payload(encode_payload(payload, **options))


@pytest.mark.parametrize("datatype", METRIC_TYPES, ids=[t.name for t in METRIC_TYPES])
@SETTINGS
@given(data=st.data())
def test_every_datatype_roundtrips(datatype: DataType, data: st.DataObject) -> None:
    metric = data.draw(metrics(datatype=datatype))
    payload = Payload(timestamp=1, metrics=(metric,), seq=0)
    assert roundtrip(payload) == payload
    assert roundtrip(payload, uint32_in_long_value=True) == payload


@pytest.mark.parametrize("datatype", METRIC_TYPES, ids=[t.name for t in METRIC_TYPES])
@SETTINGS
@given(data=st.data())
def test_every_datatype_roundtrips_without_datatype_on_the_wire(
    datatype: DataType, data: st.DataObject
) -> None:
    """DATA/CMD form (§7): the receiver knows the type from the birth and retypes the raw value."""
    metric = data.draw(metrics(datatype=datatype))
    raw = roundtrip(Payload(metrics=(metric,)), include_datatype=False).metrics[0]
    assert retype(raw, datatype) == metric


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads)
def test_whole_payloads_roundtrip(payload: Payload) -> None:
    assert roundtrip(payload) == payload


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_our_error(data: bytes) -> None:
    with contextlib.suppress(SparkplugDecodeError):
        decode_payload(data)


_FIELDS = {
    "int_value": st.integers(0, 2**32 - 1),
    "long_value": st.integers(0, 2**64 - 1),
    "float_value": st.floats(width=32),
    "double_value": st.floats(),
    "boolean_value": st.booleans(),
    "string_value": st.text(max_size=5),
    "bytes_value": st.binary(max_size=12),
}


@st.composite
def wire_metrics(draw: st.DrawFn) -> bytes:
    """Well-formed protobuf with inconsistent Sparkplug content: any datatype code with any value field."""
    fields: dict[str, object] = {"datatype": draw(st.integers(0, 40))}
    field = draw(st.none() | st.sampled_from(sorted(_FIELDS)))
    if field is not None:
        fields[field] = draw(_FIELDS[field])
    fields["is_null"] = draw(st.booleans())
    message: bytes = pb.Payload(metrics=[pb.Payload.Metric(**fields)]).SerializeToString()
    return message


@settings(max_examples=500, deadline=None)
@given(wire_metrics())
def test_inconsistent_metrics_decode_or_raise_our_error(data: bytes) -> None:
    try:
        payload = decode_payload(data)
    except SparkplugDecodeError:
        return
    metric: Metric = payload.metrics[0]
    assert metric.is_null == (metric.value is None)
