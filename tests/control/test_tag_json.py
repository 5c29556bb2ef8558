"""The direct JSON writer of TagSnapshot/TagChanges writes exactly the bytes of the generic encoder.

The generic path (``to_jsonable`` + ``json.dumps``) is the definition of the wire format; the fast
path in ``gateway.control.contract._tag_json`` must match it byte for byte, or decline (None).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.control import contract as c
from gateway.control.contract._codec import _dumps, to_jsonable
from gateway.control.contract._tag_json import encode_tag_message
from gateway.control.contract._topics import SCHEMA_VERSION


def generic(message: Any) -> bytes:
    return _dumps({"schema": SCHEMA_VERSION, "kind": message.KIND, "data": to_jsonable(message)})


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),  # any code point JSON can carry: quotes, controls, U+2028, non-ASCII
)
_tag_values = st.builds(
    c.TagValue,
    name=st.text(max_size=16),
    value=_values,
    quality=st.sampled_from(list(c.Quality)),
    timestamp_ms=st.integers(min_value=-(2**63), max_value=2**63),
    datatype=st.text(max_size=10),
    writable=st.booleans(),
    unit=st.text(max_size=6),
)
_tags = st.lists(_tag_values, max_size=20).map(tuple)


def _encodable(message: Any) -> bool:
    try:
        generic(message)
    except UnicodeEncodeError:  # a lone surrogate: neither path can write it as UTF-8
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(stamp=st.integers(min_value=0, max_value=2**63), device=st.text(max_size=10), tags=_tags)
def test_snapshot_bytes_equal_the_generic_encoder(
    stamp: int, device: str, tags: tuple[c.TagValue, ...]
) -> None:
    message = c.TagSnapshot(stamp, device, tags)
    if _encodable(message):
        assert encode_tag_message(message) == generic(message)
        assert c.encode_message(message) == generic(message)


@settings(max_examples=300, deadline=None)
@given(
    stamp=st.integers(min_value=0, max_value=2**63),
    device=st.text(max_size=10),
    tags=_tags,
    dropped=st.integers(min_value=0, max_value=2**40),
    pending=st.integers(min_value=0, max_value=2**40),
)
def test_changes_bytes_equal_the_generic_encoder(
    stamp: int, device: str, tags: tuple[c.TagValue, ...], dropped: int, pending: int
) -> None:
    message = c.TagChanges(stamp, device, tags, dropped, pending)
    if _encodable(message):
        assert encode_tag_message(message) == generic(message)
        assert c.decode_message(c.encode_message(message), c.TagChanges) is not None


class _Level(enum.IntEnum):
    HIGH = 3


class _Name(str):
    pass


def _tag(**changes: Any) -> c.TagValue:
    return dataclasses.replace(c.TagValue("t", 1, c.Quality.GOOD, 5, "Int32"), **changes)


def test_values_of_other_types_fall_back_to_the_generic_encoder() -> None:
    """An IntEnum value, an int where a bool belongs, a str subclass: the fast path declines, and
    encode_message still writes what the generic encoder writes."""
    for odd in (
        _tag(value=_Level.HIGH),
        _tag(writable=1),
        _tag(timestamp_ms=5.0),
        _tag(name=_Name("t")),
    ):
        snapshot = c.TagSnapshot(1, "d", (_tag(), odd))
        assert encode_tag_message(snapshot) is None or encode_tag_message(snapshot) == generic(snapshot)
        assert c.encode_message(snapshot) == generic(snapshot)
    assert encode_tag_message(c.TagSnapshot(1, "d", (_tag(value=_Level.HIGH),))) is None
    assert encode_tag_message(c.TagSnapshot(1, "d", (_tag(writable=1),))) is None
    assert encode_tag_message(c.GatewayStatus(1, "G", "E", "0", 0, 0.0, None, None)) is None


def test_non_finite_floats_are_the_contract_strings() -> None:
    tags = tuple(_tag(value=v) for v in (math.nan, math.inf, -math.inf))
    payload = encode_tag_message(c.TagSnapshot(1, "d", tags))
    assert payload is not None and b'"value":"NaN"' in payload and b'"value":"-Infinity"' in payload
    decoded = c.decode_message(payload, c.TagSnapshot)
    assert [t.value for t in decoded.tags] == ["NaN", "Infinity", "-Infinity"]
