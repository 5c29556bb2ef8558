"""The optional C encoder (sparkplug._speedups.encode) against the upb path (encode_payload_upb).

Contract: the same bytes, byte for byte, or None (then encode_payload takes the upb path, which also
raises every SparkplugEncodeError). Common shapes must be handled in C; anything the upb path refuses
must come back None from C.
"""

from __future__ import annotations

import enum
import tracemalloc
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkplug import DataType, Metric, Payload, encode_payload
from sparkplug._encode import encode_payload_upb
from sparkplug.errors import SparkplugEncodeError
from tests.sparkplug.speedups_support import ANY_FLOAT, common_payloads, speedups
from tests.sparkplug.strategies import payloads

FUZZ = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
OPTIONS = [(True, False), (False, False), (True, True), (False, True)]


@pytest.fixture(scope="module")
def c() -> ModuleType:
    return speedups()


def reference(payload: Any, with_datatype: bool, u32_long: bool) -> bytes | str:
    try:
        return encode_payload_upb(payload, include_datatype=with_datatype, uint32_in_long_value=u32_long)
    except SparkplugEncodeError as exc:
        return f"SparkplugEncodeError: {exc}"


def check(c: ModuleType, payload: Any, with_datatype: bool = True, u32_long: bool = False) -> bytes | None:
    """C gives the reference bytes or None; encode_payload gives the reference (or its error) either way."""
    expected = reference(payload, with_datatype, u32_long)
    got = c.encode(payload, with_datatype, u32_long)
    if got is not None:
        assert got == expected
    try:
        public: bytes | str = encode_payload(
            payload, include_datatype=with_datatype, uint32_in_long_value=u32_long
        )
    except SparkplugEncodeError as exc:
        public = f"SparkplugEncodeError: {exc}"
    assert public == expected
    return got  # type: ignore[no-any-return]


@FUZZ
@given(payload=common_payloads, options=st.sampled_from(OPTIONS))
def test_common_payloads_encode_byte_identical(
    c: ModuleType, payload: Payload, options: tuple[bool, bool]
) -> None:
    assert check(c, payload, *options) is not None, "a common shape fell back to upb"


@FUZZ
@given(payload=payloads, options=st.sampled_from(OPTIONS))
def test_any_payload_is_identical_or_falls_back(
    c: ModuleType, payload: Payload, options: tuple[bool, bool]
) -> None:
    check(c, payload, *options)


@FUZZ
@given(value=ANY_FLOAT)
def test_float32_rounding_and_range(c: ModuleType, value: float) -> None:
    """Float is rounded to float32 as upb does; finite values beyond its range are refused (C: None)."""
    check(c, Payload(metrics=(Metric(alias=1, datatype=DataType.Float, value=value),)))


class Level(enum.IntEnum):
    HIGH = 5


def _metric(**fields: Any) -> Metric:
    return Metric(**{"alias": 1, **fields})


def _raw_metric(*items: Any) -> Metric:
    """A Metric built like the decoder does, bypassing Metric.__new__'s checks (tuple layout)."""
    return tuple.__new__(Metric, items)


def _one(**fields: Any) -> Payload:
    return Payload(metrics=(_metric(**fields),))


def _one_raw(name: Any, timestamp: Any, datatype: Any, value: Any, flag: Any, is_null: Any) -> Payload:
    """One metric with alias 1 and the given items, unchecked (see _raw_metric)."""
    return Payload(
        metrics=(_raw_metric(name, 1, timestamp, datatype, value, flag, False, is_null, None, None),)
    )


# Payloads the C path must leave to upb, with whether upb refuses them.
FALLBACK_CASES: dict[str, tuple[Any, bool]] = {
    "Int8 128": (_one(datatype=DataType.Int8, value=128), True),
    "UInt32 -1": (_one(datatype=DataType.UInt32, value=-1), True),
    "UInt64 2**64": (_one(datatype=DataType.UInt64, value=2**64), True),
    "Int64 -2**63-1": (_one(datatype=DataType.Int64, value=-(2**63) - 1), True),
    "bool as Int32": (_one(datatype=DataType.Int32, value=True), True),
    "IntEnum as Int32": (_one(datatype=DataType.Int32, value=Level.HIGH), False),
    "int as Double": (_one(datatype=DataType.Double, value=3), False),
    "int as Float": (_one(datatype=DataType.Float, value=3), False),
    "Float beyond float32": (_one(datatype=DataType.Float, value=1e39), True),
    "int as Boolean": (_one(datatype=DataType.Boolean, value=1), True),
    "bytes as String": (_one(datatype=DataType.String, value=b"x"), True),
    "surrogate in String": (_one(datatype=DataType.String, value="\ud800"), True),
    "bytearray as Bytes": (_one(datatype=DataType.Bytes, value=bytearray(b"x")), False),
    "surrogate in name": (_one(name="\udc80", datatype=DataType.Int8, value=1), True),
    "empty name": (_one_raw("", None, DataType.Int8, 1, False, False), True),
    "non-str name": (_one_raw(5, None, DataType.Int8, 1, False, False), True),
    "negative alias": (_one(alias=-1, datatype=DataType.Int8, value=1), True),
    "alias 2**64": (_one(alias=2**64, datatype=DataType.Int8, value=1), True),
    "str timestamp": (_one_raw(None, "t", DataType.Int8, 1, False, False), True),
    "int datatype": (_one_raw(None, None, 3, 1, False, False), False),
    "Unknown datatype with a value": (_one(value=1), True),
    "array": (_one(datatype=DataType.Int8Array, value=(1, 2)), False),
    "flag not a bool": (_one_raw(None, None, DataType.Int8, 1, 1, False), False),
    "negative seq": (Payload(seq=-1), True),
    "timestamp 2**64": (Payload(timestamp=2**64), True),
    "bytes uuid": (Payload(uuid=b"u"), False),  # type: ignore[arg-type]  # upb takes UTF-8 bytes
    "str body": (Payload(body="b"), True),  # type: ignore[arg-type]
    "metrics as a list": (Payload(metrics=[_metric(datatype=DataType.Int8, value=1)]), False),  # type: ignore[arg-type]
    "not a Metric": (Payload(metrics=(tuple(_metric(datatype=DataType.Int8, value=1)),)), False),  # type: ignore[arg-type]
}  # fmt: skip


@pytest.mark.parametrize(("payload", "refused"), FALLBACK_CASES.values(), ids=FALLBACK_CASES.keys())
def test_unusual_or_bad_values_fall_back(c: ModuleType, payload: Any, refused: bool) -> None:
    assert c.encode(payload, True, False) is None
    check(c, payload)
    assert isinstance(reference(payload, True, False), str) == refused


HANDLED_CASES: dict[str, Payload] = {
    "null of any datatype": Payload(metrics=(_metric(datatype=DataType.Template), _metric())),
    "is_null with a value is ignored": _one_raw(None, None, DataType.Int8, -1, False, True),
    "flags": _one(datatype=DataType.Int8, value=1, is_historical=True, is_transient=True),
    "Float specials": Payload(
        metrics=tuple(_metric(datatype=DataType.Float, value=v) for v in (float("inf"), float("nan"), -0.0))
    ),
    "extremes": Payload(
        timestamp=2**64 - 1,
        seq=0,
        uuid="",
        body=b"",
        metrics=(
            _metric(alias=0, timestamp=2**64 - 1, datatype=DataType.Int64, value=-(2**63)),
            _metric(datatype=DataType.UInt64, value=2**64 - 1),
            _metric(datatype=DataType.UInt32, value=2**32 - 1),
            _metric(datatype=DataType.Int32, value=-(2**31)),
            _metric(name="x" * 300, datatype=DataType.File, value=b"\x00" * 200),
        ),
    ),
    "no metrics": Payload(),
}  # fmt: skip


@pytest.mark.parametrize("payload", HANDLED_CASES.values(), ids=HANDLED_CASES.keys())
@pytest.mark.parametrize("options", OPTIONS)
def test_handled_cases(c: ModuleType, payload: Payload, options: tuple[bool, bool]) -> None:
    assert check(c, payload, *options) is not None


def test_not_a_payload_falls_back(c: ModuleType) -> None:
    assert c.encode(object(), True, False) is None
    assert c.encode(None, True, False) is None


def test_no_memory_is_leaked(c: ModuleType) -> None:
    metrics = tuple(
        Metric(name=f"m{n}é", alias=n, timestamp=n, datatype=DataType.String, value="v" * n)
        for n in range(25)
    )
    payload = Payload(timestamp=1, seq=2, uuid="é", body=b"b", metrics=metrics)
    bad = Payload(metrics=(*payload.metrics, _metric(datatype=DataType.Int8, value=300)))
    for item, expect_none in ((payload, False), (bad, True)):
        for _ in range(3000):
            assert (c.encode(item, True, False) is None) == expect_none
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(2000):
                c.encode(item, True, False)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 20_000, f"{grown} bytes kept after 2000 encodes"
