"""The optional C decoder (sparkplug._speedups.decode) against the upb path (decode_payload_upb).

Contract: for any input, the C path returns exactly what the upb path returns, or None (then
decode_payload falls back to upb, which also raises every SparkplugDecodeError). It must handle the
common shapes itself (else the accelerator silently does nothing), and it must never accept what the
upb path rejects. Comparisons go through ``canonical`` so that NaN, -0.0 and bool-vs-int differences
count.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import subprocess
import sys
import tracemalloc
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkplug import DataType, Metric, Payload, decode_payload
from sparkplug._decode import decode_payload_upb
from sparkplug._encode import encode_payload_upb
from sparkplug.errors import SparkplugDecodeError
from tests.sparkplug.speedups_support import (
    canonical,
    common_payloads,
    compiler_available,
    field,
    metric,
    speedups,
    varint,
)

FUZZ = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def c() -> ModuleType:
    return speedups()


def reference(data: Any) -> Any:
    try:
        return canonical(decode_payload_upb(data))
    except SparkplugDecodeError:
        return "SparkplugDecodeError"


def check(c: ModuleType, data: Any) -> Payload | None:
    """The C result is None or the reference; decode_payload gives the reference either way."""
    expected = reference(data)
    got = c.decode(data)
    if got is not None:
        assert type(got) is Payload and all(type(m) is Metric for m in got.metrics)
        assert canonical(got) == expected
    try:
        public: Any = canonical(decode_payload(data))
    except SparkplugDecodeError:
        public = "SparkplugDecodeError"
    assert public == expected
    return got  # type: ignore[no-any-return]


def test_extension_is_built_when_a_compiler_exists() -> None:
    """CI must not lose the accelerator silently: with a compiler and headers, the install builds it."""
    if not compiler_available():
        pytest.skip("no C compiler or Python headers: the pure path is the expected install")
    from sparkplug import _speedups  # noqa: F401 - the import is the test

    if os.environ.get("SPARKPLUG_NO_SPEEDUPS", "") in ("", "0"):
        from sparkplug import _accel, _decode, _encode

        assert _accel.ACTIVE
        # what the public encode_payload/decode_payload call first
        assert vars(_decode)["c_decode"] is not None and vars(_encode)["c_encode"] is not None


@pytest.mark.parametrize(("value", "active"), [("1", False), ("0", True), ("", True)])
def test_environment_variable_forces_the_upb_path(c: ModuleType, value: str, active: bool) -> None:
    env = {**os.environ, "SPARKPLUG_NO_SPEEDUPS": value}
    code = "from sparkplug import _accel; print(_accel.ACTIVE, _accel.c_decode is None)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(active), str(not active)]


@FUZZ
@given(payload=common_payloads, with_datatype=st.booleans(), u32_long=st.booleans())
def test_common_payloads_decode_in_c_exactly_as_upb(
    c: ModuleType, payload: Payload, with_datatype: bool, u32_long: bool
) -> None:
    data = encode_payload_upb(payload, include_datatype=with_datatype, uint32_in_long_value=u32_long)
    assert check(c, data) is not None, "a common shape fell back to upb"


@pytest.mark.parametrize("datatype", [dt for dt in DataType if dt.value <= 18 and dt.value not in (0, 16)])
def test_every_scalar_datatype_is_handled(c: ModuleType, datatype: DataType) -> None:
    samples: dict[DataType, Any] = {
        DataType.Float: 1.5, DataType.Double: -2.25, DataType.Boolean: True, DataType.String: "s",
        DataType.Text: "t", DataType.UUID: "u", DataType.Bytes: b"\x00", DataType.File: b"f",
    }  # fmt: skip
    value = samples.get(datatype, 7)
    payload = Payload(metrics=(Metric(name="m", alias=1, datatype=datatype, value=value),))
    got = check(c, encode_payload_upb(payload))
    assert got == payload


@FUZZ
@given(data=st.binary(max_size=64))
def test_arbitrary_bytes(c: ModuleType, data: bytes) -> None:
    check(c, data)


@FUZZ
@given(payload=common_payloads, edits=st.data())
def test_mutated_payloads(c: ModuleType, payload: Payload, edits: st.DataObject) -> None:
    data = bytearray(encode_payload_upb(payload))
    for _ in range(edits.draw(st.integers(1, 3))):
        at = edits.draw(st.integers(0, len(data)))
        kind = edits.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "insert" or not data:
            data[at:at] = bytes([edits.draw(st.integers(0, 255))])
        elif kind == "flip":
            data[min(at, len(data) - 1)] ^= 1 << edits.draw(st.integers(0, 7))
        elif kind == "delete":
            del data[min(at, len(data) - 1)]
        else:
            del data[at:]
    check(c, bytes(data))


ALIAS = field(2, 0, varint(1))
INT32 = field(4, 0, varint(DataType.Int32))
VALUE = field(10, 0, varint(7))
PLAIN = metric(ALIAS, INT32, VALUE)

# Inputs the C path must leave to upb (it returns None); the upb path decides: a result or an error.
FALLBACK_CASES = {
    "truncated varint": PLAIN + b"\x08\x80",
    "length past the end": PLAIN + b"\x12\x05\x08",
    "metric length past the end": b"\x12\x7f" + PLAIN,
    "11-byte varint": b"\x08" + b"\x80" * 10 + b"\x00",
    "10th varint byte above 1": b"\x08" + b"\xff" * 9 + b"\x02",
    "field number 0": b"\x00\x00" + PLAIN,
    "group wire type": PLAIN + b"\x0b\x0c",
    "unknown payload field": PLAIN + field(6, 0, b"\x01"),
    "unknown metric field": metric(ALIAS, INT32, VALUE, field(20, 0, b"\x05")),
    "repeated seq": field(3, 0, b"\x01") + field(3, 0, b"\x02") + PLAIN,
    "repeated alias": metric(ALIAS, ALIAS, INT32, VALUE),
    "repeated name": metric(field(1, 2, b"a"), field(1, 2, b"b"), INT32, VALUE),
    "two value fields": metric(ALIAS, INT32, VALUE, field(11, 0, varint(8))),
    "alias as bytes": metric(field(2, 2, b"\x01"), INT32, VALUE),
    "float as fixed64": metric(field(4, 0, varint(9)), field(12, 1, b"\x00" * 8)),
    "bool value 2": metric(field(4, 0, varint(11)), field(14, 0, b"\x02")),
    "is_historical 2": metric(ALIAS, INT32, VALUE, field(5, 0, b"\x02")),
    "int_value beyond 32 bits": metric(ALIAS, INT32, field(10, 0, varint(1 << 33 | 5))),
    "datatype beyond 32 bits": metric(ALIAS, field(4, 0, varint(1 << 32 | 3)), VALUE),
    "datatype 35": metric(ALIAS, field(4, 0, varint(35)), VALUE),
    "Int8 in long_value": metric(ALIAS, field(4, 0, varint(1)), field(11, 0, varint(1))),
    "UInt8 300": metric(ALIAS, field(4, 0, varint(5)), field(10, 0, varint(300))),
    "UInt32 beyond 32 bits in long_value": metric(field(4, 0, varint(7)), field(11, 0, varint(1 << 32))),
    "String in bytes_value": metric(field(4, 0, varint(12)), field(16, 2, b"x")),
    "invalid UTF-8 name": metric(field(1, 2, b"\xff"), INT32, VALUE),
    "surrogate in string value": metric(field(4, 0, varint(12)), field(15, 2, b"\xed\xa0\x80")),
    "invalid UTF-8 uuid": field(4, 2, b"\xc3") + PLAIN,
    "metadata": metric(ALIAS, INT32, VALUE, field(8, 2, b"")),
    "properties": metric(ALIAS, INT32, VALUE, field(9, 2, b"")),
    "dataset value": metric(field(4, 0, varint(16)), field(17, 2, b"")),
    "template value": metric(field(4, 0, varint(19)), field(18, 2, b"")),
    "extension value": metric(field(19, 2, b"")),
    "array": metric(field(4, 0, varint(22)), field(16, 2, b"\x01\x02")),
    "metrics as varint": field(2, 0, b"\x01"),
}


@pytest.mark.parametrize("data", FALLBACK_CASES.values(), ids=FALLBACK_CASES.keys())
def test_unusual_or_bad_input_falls_back(c: ModuleType, data: bytes) -> None:
    assert c.decode(data) is None
    check(c, data)


# Inputs the C path handles itself; the expected Metric spells out the rule.
HANDLED_CASES = {
    "is_null beside a value is ignored": (
        metric(ALIAS, INT32, VALUE, field(7, 0, b"\x01")),
        Metric(alias=1, datatype=DataType.Int32, value=7),
    ),
    "empty name is None": (
        metric(field(1, 2, b""), ALIAS, INT32, VALUE),
        Metric(alias=1, datatype=DataType.Int32, value=7),
    ),
    "largest alias, 10-byte varint": (metric(field(2, 0, varint(2**64 - 1))), Metric(alias=2**64 - 1)),
    "non-minimal varint": (metric(field(2, 0, b"\x81\x80\x00")), Metric(alias=1)),
    "Int8 sign-extended to 32 bits": (
        metric(field(4, 0, varint(1)), field(10, 0, varint(0xFFFFFFFF))),
        Metric(datatype=DataType.Int8, value=-1),
    ),
    "Int8 masked to 8 bits": (
        metric(field(4, 0, varint(1)), field(10, 0, varint(0x80))),
        Metric(datatype=DataType.Int8, value=-128),
    ),
    "Int16 high bits ignored": (
        metric(field(4, 0, varint(2)), field(10, 0, varint(0x12345))),
        Metric(datatype=DataType.Int16, value=0x2345),
    ),
    "Int64 two's complement": (
        metric(field(4, 0, varint(4)), field(11, 0, varint(2**64 - 2))),
        Metric(datatype=DataType.Int64, value=-2),
    ),
    "UInt32 in long_value": (
        metric(field(4, 0, varint(7)), field(11, 0, varint(0xFFFFFFFF))),
        Metric(datatype=DataType.UInt32, value=0xFFFFFFFF),
    ),
    "UInt64 top value": (
        metric(field(4, 0, varint(8)), field(11, 0, varint(2**64 - 1))),
        Metric(datatype=DataType.UInt64, value=2**64 - 1),
    ),
    "no datatype keeps the raw bool": (metric(field(14, 0, b"\x00")), Metric(value=False)),
    "datatype without a value is null": (
        metric(field(4, 0, varint(20))),
        Metric(datatype=DataType.PropertySet),
    ),
    "empty metric": (metric(), Metric()),
    "flags": (
        metric(ALIAS, INT32, VALUE, field(5, 0, b"\x01"), field(6, 0, b"\x01")),
        Metric(alias=1, datatype=DataType.Int32, value=7, is_historical=True, is_transient=True),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("data", "expected"), HANDLED_CASES.values(), ids=HANDLED_CASES.keys())
def test_handled_cases(c: ModuleType, data: bytes, expected: Metric) -> None:
    got = check(c, data)
    assert got is not None
    assert got.metrics == (expected,)


def test_empty_payload_and_header_fields(c: ModuleType) -> None:
    assert check(c, b"") == Payload()
    data = field(5, 2, b"") + field(4, 2, "é".encode()) + field(3, 0, b"\x00") + field(1, 0, b"\x05")
    assert check(c, data) == Payload(timestamp=5, seq=0, uuid="é", body=b"")


def test_metrics_interleaved_with_header_fields(c: ModuleType) -> None:
    """Protobuf allows fields in any order; upb reads them all, and so does the C path."""
    data = PLAIN + field(3, 0, b"\x07") + metric(field(2, 0, b"\x02")) + field(1, 0, b"\x09") + PLAIN
    got = check(c, data)
    assert got is not None and got.seq == 7 and got.timestamp == 9
    assert [m.alias for m in got.metrics] == [1, 2, 1]


@pytest.mark.parametrize("wrap", [bytearray, memoryview, lambda b: b.decode("latin-1")])
def test_non_bytes_input_takes_the_upb_path(c: ModuleType, wrap: Any) -> None:
    data = encode_payload_upb(Payload(metrics=(Metric(alias=1, datatype=DataType.Int8, value=-1),)))
    assert c.decode(wrap(data)) is None


def test_decoded_metrics_behave_like_any_metric(c: ModuleType) -> None:
    original = Metric(name="a", alias=3, timestamp=9, datatype=DataType.Double, value=0.5)
    decoded = c.decode(encode_payload_upb(Payload(metrics=(original,)))).metrics[0]
    assert type(decoded) is Metric and decoded == original and hash(decoded) == hash(original)
    assert dataclasses.replace(decoded, value=1.0).value == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.value = 1  # type: ignore[misc]
    # Atomic items only, so the C path leaves it to reference counting (see _speedups.c, decode_metric).
    assert not gc.is_tracked(decoded)


def test_no_memory_is_leaked(c: ModuleType) -> None:
    """Reference counting: repeated decoding (and fall-backs half way through a payload) keeps no memory.

    25 metrics: CPython keeps up to 2,000 freed tuples of each length up to 20 for reuse, which would
    look like growth here; the warm-up fills the other free lists.
    """
    metrics = tuple(
        Metric(name=f"m{n}", alias=n, timestamp=n, datatype=DataType.String, value="v" * n) for n in range(25)
    )
    good = encode_payload_upb(Payload(timestamp=1, seq=2, uuid="u", body=b"b", metrics=metrics))
    bad = good + metric(field(4, 0, varint(1)), field(11, 0, b"\x01"))  # last metric falls back
    for data in (good, bad):
        for _ in range(3000):
            c.decode(data)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(2000):
                c.decode(data)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 20_000, f"{grown} bytes kept after 2000 decodes"
